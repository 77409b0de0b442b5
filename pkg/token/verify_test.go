package token_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wharf-registry/wharf/pkg/token"
)

// newTestVerifier trusts the shared root CA and the rsa, p256, p384 and
// p521 keys (under the kids "rsa-key", ... which are not what tokens carry,
// so the computed-form indexing is exercised), at testNow.
func newTestVerifier(t testing.TB, edit func(*token.VerifierOptions)) *token.Verifier {
	t.Helper()
	opts := token.VerifierOptions{
		Issuer:  testIssuer,
		Service: testService,
		Roots:   []*x509.Certificate{sharedPKI(t).root},
		Keys: map[string]crypto.PublicKey{
			"rsa-key":  testSigner(t, "rsa").Public(),
			"p256-key": testSigner(t, "p256").Public(),
			"p384-key": testSigner(t, "p384").Public(),
			"p521-key": testSigner(t, "p521").Public(),
		},
		Now: func() time.Time { return testNow },
	}
	if edit != nil {
		edit(&opts)
	}
	v, err := token.NewVerifier(opts)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// tokenSpec describes a token for forge: header members beyond alg, claim
// edits, the alg and who signs.
type tokenSpec struct {
	alg    string
	header map[string]any
	claims func(m map[string]any)
	signer string // testSigner kind; "" for no signature
	hmac   []byte
}

func (s tokenSpec) build(t testing.TB) string {
	t.Helper()
	h := map[string]any{"typ": "JWT"}
	if s.alg != "" {
		h["alg"] = s.alg
	}
	for k, v := range s.header {
		h[k] = v
	}
	c := claimsMap(testNow)
	if s.claims != nil {
		s.claims(c)
	}
	var signer crypto.Signer
	if s.signer != "" {
		signer = testSigner(t, s.signer)
	}
	return forge(t, h, c, s.alg, signer, s.hmac)
}

func kid(id string) map[string]any { return map[string]any{"kid": id} }

func TestVerifierAcceptsTrustedTokens(t *testing.T) {
	p := sharedPKI(t)
	v := newTestVerifier(t, nil)
	rsaPub, p256Pub := testSigner(t, "rsa").Public(), testSigner(t, "p256").Public()
	otherLeaf := leafCert(t, testSigner(t, "p256-other"), p.root, p.rootKey)
	interLeaf := leafCert(t, testSigner(t, "p256-other"), p.inter, p.interKey)
	p256JWK, err := token.NewJWK(p256Pub, "", "")
	if err != nil {
		t.Fatal(err)
	}
	at := func(d time.Duration) int64 { return testNow.Add(d).Unix() }
	tests := []struct {
		name string
		spec tokenSpec
	}{
		{"RS256 with libtrust kid", tokenSpec{alg: "RS256", header: kid(libtrustID(t, rsaPub)), signer: "rsa"}},
		{"RS256 with thumbprint kid", tokenSpec{alg: "RS256", header: kid(thumbprint(t, rsaPub)), signer: "rsa"}},
		{"RS256 with configured kid", tokenSpec{alg: "RS256", header: kid("rsa-key"), signer: "rsa"}},
		{"RS512", tokenSpec{alg: "RS512", header: kid(libtrustID(t, rsaPub)), signer: "rsa"}},
		{"PS256", tokenSpec{alg: "PS256", header: kid(libtrustID(t, rsaPub)), signer: "rsa"}},
		{"ES256", tokenSpec{alg: "ES256", header: kid(libtrustID(t, p256Pub)), signer: "p256"}},
		{"ES384", tokenSpec{alg: "ES384", header: kid(thumbprint(t, testSigner(t, "p384").Public())), signer: "p384"}},
		{"ES512", tokenSpec{alg: "ES512", header: kid(libtrustID(t, testSigner(t, "p521").Public())), signer: "p521"}},
		{"root certificate's own key by kid", tokenSpec{alg: "ES256", header: kid(thumbprint(t, p.rootKey.Public())), signer: "ca"}},
		{"x5c to the root with a libtrust kid of an otherwise unknown key", tokenSpec{alg: "ES256",
			header: map[string]any{"kid": libtrustID(t, otherLeaf.PublicKey), "x5c": x5c(otherLeaf)}, signer: "p256-other"}},
		{"x5c through an intermediate", tokenSpec{alg: "ES256", header: map[string]any{"x5c": x5c(interLeaf, p.inter)}, signer: "p256-other"}},
		{"embedded jwk equal to a trusted key", tokenSpec{alg: "ES256", header: map[string]any{"jwk": p256JWK}, signer: "p256"}},
		{"aud list containing ours", tokenSpec{alg: "ES256", header: kid(libtrustID(t, p256Pub)), signer: "p256",
			claims: func(m map[string]any) { m["aud"] = []string{"other", testService} }}},
		{"exp 59s past", tokenSpec{alg: "ES256", header: kid(libtrustID(t, p256Pub)), signer: "p256",
			claims: func(m map[string]any) {
				m["exp"], m["iat"], m["nbf"] = at(-59*time.Second), at(-time.Hour), at(-time.Hour)
			}}},
		{"nbf 59s ahead", tokenSpec{alg: "ES256", header: kid(libtrustID(t, p256Pub)), signer: "p256",
			claims: func(m map[string]any) { m["nbf"] = at(59 * time.Second) }}},
		{"iat 59s ahead", tokenSpec{alg: "ES256", header: kid(libtrustID(t, p256Pub)), signer: "p256",
			claims: func(m map[string]any) { m["iat"] = at(59 * time.Second) }}},
		{"no nbf, iat or access", tokenSpec{alg: "ES256", header: kid(libtrustID(t, p256Pub)), signer: "p256",
			claims: func(m map[string]any) { delete(m, "nbf"); delete(m, "iat"); delete(m, "access") }}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(context.Background(), tt.spec.build(t))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.Subject != "alice" || c.Issuer != testIssuer {
				t.Fatalf("claims sub=%q iss=%q", c.Subject, c.Issuer)
			}
			_, hasAccess := claimsMap(testNow)["access"]
			if hasAccess && tt.name != "no nbf, iat or access" && !c.Allows("repository", "team/app", "push") {
				t.Fatalf("access lost: %+v", c.Access)
			}
		})
	}
}

// Tokens made by Key.Sign, as cmd/auth makes them, verify in every form.
func TestVerifierAcceptsTokensFromKeySign(t *testing.T) {
	p := sharedPKI(t)
	v := newTestVerifier(t, nil)
	other := testSigner(t, "p256-other")
	tests := []struct {
		name string
		key  *token.Key
	}{
		{"trusted key, libtrust kid", mustNewKey(t, testSigner(t, "rsa"), nil, token.KeyIDLibtrust)},
		{"trusted key, thumbprint kid", mustNewKey(t, testSigner(t, "p384"), nil, token.KeyIDThumbprint)},
		{"x5c chain, libtrust kid", mustNewKey(t, other, []*x509.Certificate{leafCert(t, other, p.inter, p.interKey), p.inter}, token.KeyIDLibtrust)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := tt.key.Sign(&token.Claims{
				RegisteredClaims: jwt.RegisteredClaims{Issuer: testIssuer, Subject: "bob", Audience: jwt.ClaimStrings{testService},
					ExpiresAt: jwt.NewNumericDate(testNow.Add(time.Minute))},
				Access: []token.ResourceActions{{Type: "registry", Name: "catalog", Actions: []string{"*"}}},
			})
			if err != nil {
				t.Fatal(err)
			}
			c, err := v.Verify(context.Background(), raw)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.Subject != "bob" || !c.Allows("registry", "catalog", "*") {
				t.Fatalf("claims: %+v", c)
			}
		})
	}
}

func TestVerifierRejectsBadTokens(t *testing.T) {
	p := sharedPKI(t)
	v := newTestVerifier(t, nil)
	rsaPub, p256Pub := testSigner(t, "rsa").Public(), testSigner(t, "p256").Public()
	otherPub := testSigner(t, "p256-other").Public()
	otherRootKey := testSigner(t, "ca-other")
	otherRoot, err := makeCert("other root", otherRootKey.Public(), nil, otherRootKey, true)
	if err != nil {
		t.Fatal(err)
	}
	strayLeaf := leafCert(t, testSigner(t, "p256-other"), otherRoot, otherRootKey)
	p256Leaf := leafCert(t, testSigner(t, "p256"), otherRoot, otherRootKey)
	trustedLeaf := leafCert(t, testSigner(t, "p256-other"), p.root, p.rootKey)
	expiredLeaf, err := makeCertUntil("expired", testSigner(t, "p256-other").Public(), p.root, p.rootKey, false, testNow.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	otherJWK, err := token.NewJWK(otherPub, "", "")
	if err != nil {
		t.Fatal(err)
	}
	pkix, err := x509.MarshalPKIXPublicKey(rsaPub)
	if err != nil {
		t.Fatal(err)
	}
	rsaPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})
	rsaJWKObj, err := token.NewJWK(rsaPub, "", "")
	if err != nil {
		t.Fatal(err)
	}
	rsaJWK := mustJSON(t, rsaJWKObj)
	at := func(d time.Duration) int64 { return testNow.Add(d).Unix() }
	good := tokenSpec{alg: "ES256", header: kid(libtrustID(t, p256Pub)), signer: "p256"}
	withClaims := func(edit func(m map[string]any)) tokenSpec { s := good; s.claims = edit; return s }

	tests := []struct {
		name string
		raw  func() string
	}{
		{"unknown key", tokenSpec{alg: "ES256", header: kid(libtrustID(t, otherPub)), signer: "p256-other"}.buildFn(t)},
		{"unknown kid", tokenSpec{alg: "ES256", header: kid("nope"), signer: "p256"}.buildFn(t)},
		{"no key reference", tokenSpec{alg: "ES256", signer: "p256"}.buildFn(t)},
		{"x5c not chaining to the roots", tokenSpec{alg: "ES256", header: map[string]any{"x5c": x5c(strayLeaf, otherRoot)}, signer: "p256-other"}.buildFn(t)},
		{"x5c not chaining, with a trusted kid", tokenSpec{alg: "ES256",
			header: map[string]any{"x5c": x5c(p256Leaf), "kid": libtrustID(t, p256Pub)}, signer: "p256"}.buildFn(t)},
		{"x5c chaining but signed by another key", tokenSpec{alg: "ES256", header: map[string]any{"x5c": x5c(trustedLeaf)}, signer: "p256"}.buildFn(t)},
		{"x5c leaf expired", tokenSpec{alg: "ES256", header: map[string]any{"x5c": x5c(expiredLeaf)}, signer: "p256-other"}.buildFn(t)},
		{"x5c garbage", tokenSpec{alg: "ES256", header: map[string]any{"x5c": []string{"bm90IGEgY2VydA=="}}, signer: "p256"}.buildFn(t)},
		{"untrusted embedded jwk", tokenSpec{alg: "ES256", header: map[string]any{"jwk": otherJWK}, signer: "p256-other"}.buildFn(t)},
		{"untrusted embedded jwk with a trusted kid", tokenSpec{alg: "ES256",
			header: map[string]any{"jwk": otherJWK, "kid": libtrustID(t, p256Pub)}, signer: "p256-other"}.buildFn(t)},
		{"alg none", tokenSpec{alg: "none", header: kid(libtrustID(t, rsaPub))}.buildFn(t)},
		{"missing alg", func() string {
			// Signed as RS256 would be, but the header does not say so.
			return forge(t, kid(libtrustID(t, rsaPub)), claimsMap(testNow), "RS256", testSigner(t, "rsa"), nil)
		}},
		{"HS256 keyed with the public key PEM", tokenSpec{alg: "HS256", header: kid(libtrustID(t, rsaPub)), hmac: rsaPEM}.buildFn(t)},
		{"HS256 keyed with the public key DER", tokenSpec{alg: "HS256", header: kid(libtrustID(t, rsaPub)), hmac: pkix}.buildFn(t)},
		{"HS256 keyed with the public key JWK", tokenSpec{alg: "HS256", header: kid(libtrustID(t, rsaPub)), hmac: rsaJWK}.buildFn(t)},
		{"HS256 keyed with the kid", tokenSpec{alg: "HS256", header: kid("rsa-key"), hmac: []byte("rsa-key")}.buildFn(t)},
		{"RS256 header on an EC key", tokenSpec{alg: "RS256", header: kid(libtrustID(t, p256Pub)), signer: "p256"}.buildFn(t)},
		{"ES256 header on an RSA key", tokenSpec{alg: "ES256", header: kid(libtrustID(t, rsaPub)), signer: "rsa"}.buildFn(t)},
		{"ES256 header on a P-384 key", tokenSpec{alg: "ES256", header: kid(libtrustID(t, testSigner(t, "p384").Public())), signer: "p384"}.buildFn(t)},
		{"EdDSA", tokenSpec{alg: "EdDSA", header: kid(libtrustID(t, p256Pub)), signer: ""}.buildFn(t)},
		{"jku only", tokenSpec{alg: "RS256", header: map[string]any{"jku": "http://127.0.0.1:1/jwks.json"}, signer: "rsa"}.buildFn(t)},
		{"x5u only", tokenSpec{alg: "RS256", header: map[string]any{"x5u": "http://127.0.0.1:1/cert.pem"}, signer: "rsa"}.buildFn(t)},
		{"crit extension", tokenSpec{alg: "ES256", header: map[string]any{"kid": libtrustID(t, p256Pub), "crit": []string{"exp"}}, signer: "p256"}.buildFn(t)},
		{"wrong iss", withClaims(func(m map[string]any) { m["iss"] = "evil" }).buildFn(t)},
		{"missing iss", withClaims(func(m map[string]any) { delete(m, "iss") }).buildFn(t)},
		{"aud other", withClaims(func(m map[string]any) { m["aud"] = "other" }).buildFn(t)},
		{"aud list without ours", withClaims(func(m map[string]any) { m["aud"] = []string{"a", "b"} }).buildFn(t)},
		{"aud []", withClaims(func(m map[string]any) { m["aud"] = []string{} }).buildFn(t)},
		{"aud missing", withClaims(func(m map[string]any) { delete(m, "aud") }).buildFn(t)},
		{"aud a number", withClaims(func(m map[string]any) { m["aud"] = 5 }).buildFn(t)},
		{"exp 61s past", withClaims(func(m map[string]any) {
			m["exp"], m["nbf"], m["iat"] = at(-61*time.Second), at(-time.Hour), at(-time.Hour)
		}).buildFn(t)},
		{"nbf 61s ahead", withClaims(func(m map[string]any) { m["nbf"] = at(61 * time.Second) }).buildFn(t)},
		{"iat 61s ahead", withClaims(func(m map[string]any) { m["iat"] = at(61 * time.Second) }).buildFn(t)},
		{"no exp", withClaims(func(m map[string]any) { delete(m, "exp") }).buildFn(t)},
		{"exp a string", withClaims(func(m map[string]any) { m["exp"] = "tomorrow" }).buildFn(t)},
		{"tampered payload", func() string {
			parts := strings.Split(good.build(t), ".")
			evil := strings.Split(withClaims(func(m map[string]any) { m["sub"] = "admin" }).build(t), ".")
			return parts[0] + "." + evil[1] + "." + parts[2]
		}},
		{"padded signature", func() string { return good.build(t) + "=" }},
		{"oversize", tokenSpec{alg: "ES256", header: map[string]any{"kid": libtrustID(t, p256Pub), "pad": strings.Repeat("x", token.MaxTokenSize)}, signer: "p256"}.buildFn(t)},
		{"100,000 dots", func() string { return strings.Repeat(".", 100000) }},
		{"60,000 dots", func() string { return strings.Repeat(".", 60000) }},
		{"two parts", func() string { s := good.build(t); return s[:strings.LastIndexByte(s, '.')] }},
		{"four parts", func() string { return good.build(t) + ".x" }},
		{"empty", func() string { return "" }},
		{"deeply nested header", func() string {
			s := good.build(t)
			nested := `{"alg":"ES256","x":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`
			return b64([]byte(nested)) + s[strings.IndexByte(s, '.'):]
		}},
		{"header not JSON", func() string { s := good.build(t); return b64([]byte("{")) + s[strings.IndexByte(s, '.'):] }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(context.Background(), tt.raw())
			t.Log(err)
			if !errors.Is(err, token.ErrInvalidToken) || c != nil {
				t.Fatalf("Verify = %+v, %v; want ErrInvalidToken", c, err)
			}
		})
	}
	t.Run("the good token itself verifies", func(t *testing.T) {
		if _, err := v.Verify(context.Background(), good.build(t)); err != nil {
			t.Fatal(err)
		}
	})
}

func (s tokenSpec) buildFn(t testing.TB) func() string {
	return func() string { return s.build(t) }
}

// Without root certificates x5c must not fall back to the system roots.
func TestVerifierWithoutRootsRejectsX5c(t *testing.T) {
	p := sharedPKI(t)
	v := newTestVerifier(t, func(o *token.VerifierOptions) { o.Roots = nil })
	leaf := leafCert(t, testSigner(t, "p256"), p.root, p.rootKey)
	raw := tokenSpec{alg: "ES256", header: map[string]any{"x5c": x5c(leaf, p.root), "kid": libtrustID(t, leaf.PublicKey)}, signer: "p256"}.build(t)
	if _, err := v.Verify(context.Background(), raw); !errors.Is(err, token.ErrInvalidToken) {
		t.Fatalf("err = %v, want ErrInvalidToken", err)
	}
}

func TestVerifierOptionsAreValidated(t *testing.T) {
	k1, k2 := testSigner(t, "p256").Public(), testSigner(t, "p384").Public()
	tests := []struct {
		name string
		edit func(o *token.VerifierOptions)
	}{
		{"no issuer", func(o *token.VerifierOptions) { o.Issuer = "" }},
		{"no service", func(o *token.VerifierOptions) { o.Service = "" }},
		{"nothing trusted", func(o *token.VerifierOptions) { o.Roots, o.Keys = nil, nil }},
		{"negative leeway", func(o *token.VerifierOptions) { o.Leeway = -time.Second }},
		{"one kid for two keys", func(o *token.VerifierOptions) {
			o.Keys = map[string]crypto.PublicKey{libtrustID(t, k2): k1, "b": k2}
		}},
		{"unsupported key", func(o *token.VerifierOptions) { o.Keys = map[string]crypto.PublicKey{"x": "not a key"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := token.VerifierOptions{Issuer: testIssuer, Service: testService, Keys: map[string]crypto.PublicKey{"a": k1}}
			tt.edit(&opts)
			if _, err := token.NewVerifier(opts); err == nil {
				t.Fatal("NewVerifier accepted it")
			}
		})
	}
}
