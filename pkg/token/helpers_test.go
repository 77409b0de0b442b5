package token_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/pkg/token"
)

// Test keys are costly to generate (RSA especially, more so under -race), so
// each kind is made once per test binary. "rsa" is the fixed key in testdata,
// whose libtrust kid was computed with openssl (see keys_test.go).
var (
	keysMu   sync.Mutex
	keyCache = map[string]crypto.Signer{}
)

// testSigner returns the shared private key of a kind: rsa, rsa-other, p256,
// p256-other, p384, p521.
func testSigner(t testing.TB, kind string) crypto.Signer {
	t.Helper()
	keysMu.Lock()
	defer keysMu.Unlock()
	if k, ok := keyCache[kind]; ok {
		return k
	}
	var k crypto.Signer
	var err error
	switch kind {
	case "rsa":
		k = mustParseKeyFile(t, "testdata/rsa2048.pem")
	case "ec256-fixed":
		k = mustParseKeyFile(t, "testdata/ec256.pem")
	case "rsa-other":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case "p256", "p256-other", "ca", "ca-other", "intermediate":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "p384":
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "p521":
		k, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	default:
		t.Fatalf("unknown test key kind %q", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	keyCache[kind] = k
	return k
}

func mustParseKeyFile(t testing.TB, path string) crypto.Signer {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	k, err := token.ParsePrivateKeyPEM(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return k
}

// testPKI is a root CA, an intermediate CA and helpers to issue leaves.
type testPKI struct {
	root, inter       *x509.Certificate
	rootKey, interKey crypto.Signer
}

var (
	pkiOnce sync.Once
	pki     *testPKI
	pkiErr  error
)

// sharedPKI returns a root and an intermediate CA, made once.
func sharedPKI(t testing.TB) *testPKI {
	t.Helper()
	rootKey, interKey := testSigner(t, "ca"), testSigner(t, "intermediate")
	pkiOnce.Do(func() {
		p := &testPKI{rootKey: rootKey, interKey: interKey}
		p.root, pkiErr = makeCert("test root", rootKey.Public(), nil, rootKey, true)
		if pkiErr != nil {
			return
		}
		p.inter, pkiErr = makeCert("test intermediate", interKey.Public(), p.root, rootKey, true)
		pki = p
	})
	if pkiErr != nil {
		t.Fatal(pkiErr)
	}
	return pki
}

// makeCert issues a certificate for pub signed by parentKey (self-signed
// when parent is nil), valid from 2000 to 2099 so that both the real clock
// and testNow fall inside.
func makeCert(cn string, pub crypto.PublicKey, parent *x509.Certificate, parentKey crypto.Signer, isCA bool) (*x509.Certificate, error) {
	return makeCertUntil(cn, pub, parent, parentKey, isCA, time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC))
}

func makeCertUntil(cn string, pub crypto.PublicKey, parent *x509.Certificate, parentKey crypto.Signer, isCA bool, notAfter time.Time) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  isCA,
	}
	if isCA {
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// leafCert issues a leaf for signer's key from the given CA.
func leafCert(t testing.TB, signer crypto.Signer, ca *x509.Certificate, caKey crypto.Signer) *x509.Certificate {
	t.Helper()
	c, err := makeCert("token signer", signer.Public(), ca, caKey, false)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustNewKey(t testing.TB, signer crypto.Signer, chain []*x509.Certificate, format token.KeyIDFormat) *token.Key {
	t.Helper()
	k, err := token.NewKey(signer, chain, format)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Claims every accepting test starts from.
const (
	testIssuer  = "auth.test"
	testService = "registry.test"
)

var testNow = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// claimsMap is a token payload as a map, so tests can drop or mistype members.
func claimsMap(now time.Time) map[string]any {
	return map[string]any{
		"iss": testIssuer,
		"sub": "alice",
		"aud": testService,
		"exp": now.Add(5 * time.Minute).Unix(),
		"nbf": now.Add(-time.Second).Unix(),
		"iat": now.Unix(),
		"jti": "test-jti",
		"access": []map[string]any{
			{"type": "repository", "name": "team/app", "actions": []string{"pull", "push"}},
		},
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// forge assembles a compact JWS from any header and payload and signs it
// with signer under alg, independently of token.Key.Sign, so tests can build
// tokens a correct signer would never produce. A nil signer with alg "none"
// leaves the signature empty; hmacKey signs HS256.
func forge(t testing.TB, header, payload map[string]any, alg string, signer crypto.Signer, hmacKey []byte) string {
	t.Helper()
	input := b64(mustJSON(t, header)) + "." + b64(mustJSON(t, payload))
	var sig []byte
	switch {
	case hmacKey != nil:
		m := hmac.New(sha256.New, hmacKey)
		m.Write([]byte(input))
		sig = m.Sum(nil)
	case signer != nil:
		sig = rawSign(t, signer, alg, []byte(input))
	}
	return input + "." + b64(sig)
}

// rawSign signs data as JWS alg would, with whatever key it is given.
func rawSign(t testing.TB, signer crypto.Signer, alg string, data []byte) []byte {
	t.Helper()
	hash := map[string]crypto.Hash{"256": crypto.SHA256, "384": crypto.SHA384, "512": crypto.SHA512}[alg[2:]]
	h := hash.New()
	h.Write(data)
	digest := h.Sum(nil)
	switch k := signer.(type) {
	case *rsa.PrivateKey:
		var sig []byte
		var err error
		if alg[:2] == "PS" {
			sig, err = rsa.SignPSS(rand.Reader, k, hash, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			sig, err = rsa.SignPKCS1v15(rand.Reader, k, hash, digest)
		}
		if err != nil {
			t.Fatal(err)
		}
		return sig
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, k, digest)
		if err != nil {
			t.Fatal(err)
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		out := make([]byte, 2*size)
		r.FillBytes(out[:size])
		s.FillBytes(out[size:])
		return out
	}
	t.Fatalf("rawSign: unsupported key %T", signer)
	return nil
}

func libtrustID(t testing.TB, pub crypto.PublicKey) string {
	t.Helper()
	id, err := token.LibtrustKeyID(pub)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func thumbprint(t testing.TB, pub crypto.PublicKey) string {
	t.Helper()
	id, err := token.Thumbprint(pub)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func x5c(certs ...*x509.Certificate) []string {
	out := make([]string, len(certs))
	for i, c := range certs {
		out[i] = base64.StdEncoding.EncodeToString(c.Raw)
	}
	return out
}
