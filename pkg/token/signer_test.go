package token_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"github.com/golang-jwt/jwt/v5"

	"github.com/wharf-registry/wharf/pkg/token"
)

// Tokens from Key.Sign must verify with an independent JOSE implementation,
// for every key type, both kid forms, with and without an x5c chain.
func TestSignedTokensVerifyWithGoJose(t *testing.T) {
	p := sharedPKI(t)
	roots := x509.NewCertPool()
	roots.AddCert(p.root)
	kinds := []struct{ kind, alg string }{
		{"rsa", "RS256"}, {"p256", "ES256"}, {"p384", "ES384"}, {"p521", "ES512"},
	}
	for _, kk := range kinds {
		signer := testSigner(t, kk.kind)
		leaf := leafCert(t, signer, p.inter, p.interKey)
		for _, format := range []token.KeyIDFormat{token.KeyIDLibtrust, token.KeyIDThumbprint} {
			for _, withChain := range []bool{false, true} {
				name := kk.kind + "/" + string(format)
				var chain []*x509.Certificate
				if withChain {
					name += "/x5c"
					chain = []*x509.Certificate{leaf, p.inter}
				}
				t.Run(name, func(t *testing.T) {
					key := mustNewKey(t, signer, chain, format)
					if key.Alg != kk.alg {
						t.Fatalf("Alg = %s, want %s", key.Alg, kk.alg)
					}
					wantKid := libtrustID(t, signer.Public())
					if format == token.KeyIDThumbprint {
						wantKid = thumbprint(t, signer.Public())
					}
					now := time.Now().Truncate(time.Second)
					claims := &token.Claims{
						RegisteredClaims: jwt.RegisteredClaims{
							Issuer: testIssuer, Subject: "alice", Audience: jwt.ClaimStrings{testService},
							ExpiresAt: jwt.NewNumericDate(now.Add(5 * time.Minute)), NotBefore: jwt.NewNumericDate(now),
							IssuedAt: jwt.NewNumericDate(now), ID: token.NewJTI(),
						},
						Access: []token.ResourceActions{{Type: "repository", Name: "team/app", Actions: []string{"push", "pull"}}},
					}
					raw, err := key.Sign(claims)
					if err != nil {
						t.Fatal(err)
					}

					tok, err := josejwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(kk.alg)})
					if err != nil {
						t.Fatalf("go-jose cannot parse: %v", err)
					}
					h := tok.Headers[0]
					if h.KeyID != wantKid || h.Algorithm != kk.alg || h.ExtraHeaders["typ"] != "JWT" {
						t.Fatalf("header kid=%q alg=%q typ=%v; want kid %q alg %s typ JWT", h.KeyID, h.Algorithm, h.ExtraHeaders["typ"], wantKid, kk.alg)
					}
					verifyKey := any(signer.Public())
					if withChain {
						chains, err := h.Certificates(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
						if err != nil {
							t.Fatalf("x5c does not verify with go-jose: %v", err)
						}
						verifyKey = chains[0][0].PublicKey
					} else if _, err := h.Certificates(x509.VerifyOptions{Roots: roots}); err == nil {
						t.Fatal("token without a chain carries x5c")
					}
					var std josejwt.Claims
					var extra struct {
						Access []token.ResourceActions `json:"access"`
					}
					if err := tok.Claims(verifyKey, &std, &extra); err != nil {
						t.Fatalf("go-jose rejects the signature: %v", err)
					}
					if err := std.Validate(josejwt.Expected{Issuer: testIssuer, AnyAudience: josejwt.Audience{testService}, Time: now}); err != nil {
						t.Fatalf("go-jose rejects the claims: %v", err)
					}
					if std.Subject != "alice" || std.ID != claims.ID {
						t.Fatalf("sub=%q jti=%q", std.Subject, std.ID)
					}
					want := []token.ResourceActions{{Type: "repository", Name: "team/app", Actions: []string{"pull", "push"}}}
					if !reflect.DeepEqual(extra.Access, want) {
						t.Fatalf("access = %+v, want %+v", extra.Access, want)
					}
				})
			}
		}
	}
}

func TestNewKeyRefusesMismatchedOrUnsupportedKeys(t *testing.T) {
	p := sharedPKI(t)
	otherLeaf := leafCert(t, testSigner(t, "p256-other"), p.root, p.rootKey)
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		run    func() (*token.Key, error)
		substr string
	}{
		{"certificate for another key", func() (*token.Key, error) {
			return token.NewKey(testSigner(t, "p256"), []*x509.Certificate{otherLeaf}, "")
		}, "does not hold"},
		{"ed25519", func() (*token.Key, error) { return token.NewKey(edKey, nil, "") }, "unsupported key type"},
		{"no signer", func() (*token.Key, error) { return token.NewKey(nil, nil, "") }, "no private key"},
		{"unknown kid format", func() (*token.Key, error) { return token.NewKey(testSigner(t, "p256"), nil, "sha1") }, "key id format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.run(); err == nil || !strings.Contains(err.Error(), tt.substr) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.substr)
			}
		})
	}
	t.Run("default format is libtrust", func(t *testing.T) {
		k := mustNewKey(t, testSigner(t, "p256"), nil, "")
		if k.ID != libtrustID(t, testSigner(t, "p256").Public()) {
			t.Fatalf("kid %q is not the libtrust id", k.ID)
		}
	})
}

func TestLoadKeyReadsFilesAndNamesThemInErrors(t *testing.T) {
	dir := t.TempDir()
	p := sharedPKI(t)
	signer := testSigner(t, "p256")
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	der, err := x509.MarshalPKCS8PrivateKey(signer)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := write("key.pem", pemBlock("PRIVATE KEY", der))
	leaf := leafCert(t, signer, p.root, p.rootKey)
	certFile := write("cert.pem", append(pemBlock("CERTIFICATE", leaf.Raw), pemBlock("CERTIFICATE", p.root.Raw)...))
	otherCert := write("other.pem", pemBlock("CERTIFICATE", leafCert(t, testSigner(t, "p256-other"), p.root, p.rootKey).Raw))
	notAKey := write("notakey.pem", []byte("nothing"))

	t.Run("key and chain", func(t *testing.T) {
		k, err := token.LoadKey(keyFile, certFile, token.KeyIDThumbprint)
		if err != nil {
			t.Fatal(err)
		}
		if len(k.Chain) != 2 || !k.Chain[0].Equal(leaf) || k.ID != thumbprint(t, signer.Public()) || k.Alg != "ES256" {
			t.Fatalf("loaded key: chain %d, kid %s, alg %s", len(k.Chain), k.ID, k.Alg)
		}
	})
	t.Run("key alone", func(t *testing.T) {
		k, err := token.LoadKey(keyFile, "", token.KeyIDLibtrust)
		if err != nil || len(k.Chain) != 0 {
			t.Fatalf("LoadKey = %+v, %v", k, err)
		}
	})
	for _, tt := range []struct {
		name, key, cert, mention string
	}{
		{"missing key file", filepath.Join(dir, "absent.pem"), "", "absent.pem"},
		{"missing cert file", keyFile, filepath.Join(dir, "absent.crt"), "absent.crt"},
		{"no key in file", notAKey, "", "notakey.pem"},
		{"no certificate in file", keyFile, notAKey, "notakey.pem"},
		{"certificate of another key", keyFile, otherCert, "other.pem"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := token.LoadKey(tt.key, tt.cert, "")
			if err == nil || !strings.Contains(err.Error(), tt.mention) {
				t.Fatalf("err = %v, want it to name %s", err, tt.mention)
			}
		})
	}
}
