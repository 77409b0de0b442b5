package authserver

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
)

// libtrustKID computes registry:2's key id by hand from its definition,
// independently of pkg/token.
func libtrustKID(t *testing.T, pub crypto.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	s := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:30])
	var groups []string
	for i := 0; i < len(s); i += 4 {
		groups = append(groups, s[i:i+4])
	}
	return strings.Join(groups, ":")
}

// thumbprintKID is RFC 7638 as go-jose computes it.
func thumbprintKID(t *testing.T, pub crypto.PublicKey) string {
	t.Helper()
	tp, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(tp)
}

func TestTokensVerifyWithAnIndependentJWTLibrary(t *testing.T) {
	tests := []struct {
		kind, kidFormat string
		withCert        bool
		wantAlg         string
	}{
		{"rsa", "libtrust", true, "RS256"},
		{"rsa", "jwk-thumbprint", true, "RS256"},
		{"p256", "libtrust", true, "ES256"},
		{"p256", "jwk-thumbprint", false, "ES256"},
		{"p384", "libtrust", false, "ES384"},
		{"p384", "jwk-thumbprint", true, "ES384"},
	}
	for _, tt := range tests {
		name := tt.kind + "/" + tt.kidFormat
		if tt.withCert {
			name += "/x5c"
		}
		t.Run(name, func(t *testing.T) {
			cfg := strings.Replace(strictConfig, "expiration: 900", "expiration: 900\n\tkid_format: "+tt.kidFormat, 1)
			if !tt.withCert {
				cfg = strings.Replace(cfg, "\tcertificate: CERT\n", "", 1)
			}
			f := newFixtureKey(t, cfg, tt.kind)
			tr := tokenBody(t, f.get(t, url.Values{"service": {"registry.local"}, "scope": {"repository:a/b:pull,push"}}, "admin", "adminpassword"))

			tok, std, acc := verifyJose(t, tr.Token, f.kp.Public)
			h := tok.Headers[0]
			wantKID := libtrustKID(t, f.kp.Public)
			if tt.kidFormat == "jwk-thumbprint" {
				wantKID = thumbprintKID(t, f.kp.Public)
			}
			if h.KeyID != wantKID || h.Algorithm != tt.wantAlg {
				t.Errorf("header kid %q alg %q, want %q %q", h.KeyID, h.Algorithm, wantKID, tt.wantAlg)
			}
			if err := std.ValidateWithLeeway(josejwt.Expected{Issuer: "Auth Service", AnyAudience: []string{"registry.local"}, Time: time.Now()}, 0); err != nil {
				t.Error(err)
			}
			if grants(acc)["repository:a/b"] != "pull,push" {
				t.Errorf("access %+v", acc)
			}

			roots := x509.NewCertPool()
			roots.AddCert(f.kp.X509)
			chains, err := h.Certificates(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
			switch {
			case tt.withCert && err != nil:
				t.Errorf("x5c does not verify against the configured certificate: %v", err)
			case tt.withCert && !chains[0][0].Equal(f.kp.X509):
				t.Error("x5c leaf is not the configured certificate")
			case !tt.withCert && err == nil:
				t.Error("x5c present although no certificate is configured")
			}
		})
	}
}

func TestJWKSPublishesEveryKey(t *testing.T) {
	cfg := strings.Replace(strictConfig, "expiration: 900", "expiration: 900\n\textra_keys: [{key: EXTRA1}, {key: EXTRA2, certificate: EXTRA2CERT}]", 1)
	dir := t.TempDir()
	e1 := writeKeyPair(t, dir, "e1", "p384")
	e2 := writeKeyPair(t, dir, "e2", "rsa")
	cfg = strings.NewReplacer("EXTRA1", e1.Key, "EXTRA2CERT", e2.Cert, "EXTRA2", e2.Key).Replace(cfg)
	f := newFixture(t, cfg)

	resp, err := http.Get(f.ts.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	b := readBody(t, resp)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatalf("go-jose cannot read our JWKS: %v\n%s", err, b)
	}
	want := []crypto.PublicKey{f.kp.Public, e1.Public, e2.Public}
	if len(set.Keys) != len(want) {
		t.Fatalf("%d keys, want %d", len(set.Keys), len(want))
	}
	for i, k := range set.Keys {
		if !k.IsPublic() || !k.Valid() {
			t.Errorf("key %d is not a valid public key", i)
		}
		if !k.Key.(interface{ Equal(crypto.PublicKey) bool }).Equal(want[i]) {
			t.Errorf("key %d is not the configured key", i)
		}
		if k.KeyID != libtrustKID(t, want[i]) {
			t.Errorf("key %d kid %q", i, k.KeyID)
		}
	}

	// The first key signs; the token's kid is found in the JWKS.
	tr := tokenBody(t, f.get(t, url.Values{"service": {"registry.local"}}, "admin", "adminpassword"))
	tok, err := josejwt.ParseSigned(tr.Token, allAlgs)
	if err != nil {
		t.Fatal(err)
	}
	if found := set.Key(tok.Headers[0].KeyID); len(found) != 1 || found[0].KeyID != set.Keys[0].KeyID {
		t.Errorf("token kid %q is not the first JWKS key", tok.Headers[0].KeyID)
	}
}
