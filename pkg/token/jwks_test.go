package token_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/wharf-registry/wharf/pkg/token"
)

func TestJWKSOutputParsesWithGoJose(t *testing.T) {
	p := sharedPKI(t)
	rsaSigner := testSigner(t, "rsa")
	keys := []*token.Key{
		mustNewKey(t, rsaSigner, []*x509.Certificate{leafCert(t, rsaSigner, p.root, p.rootKey)}, token.KeyIDLibtrust),
		mustNewKey(t, testSigner(t, "p256"), nil, token.KeyIDThumbprint),
		mustNewKey(t, testSigner(t, "p384"), nil, token.KeyIDLibtrust),
		mustNewKey(t, testSigner(t, "p521"), nil, token.KeyIDThumbprint),
	}
	data, err := token.MarshalJWKS(keys)
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(data, &set); err != nil {
		t.Fatalf("go-jose cannot read the JWKS: %v\n%s", err, data)
	}
	if len(set.Keys) != len(keys) {
		t.Fatalf("go-jose read %d keys, want %d", len(set.Keys), len(keys))
	}
	for _, k := range keys {
		t.Run(k.ID, func(t *testing.T) {
			found := set.Key(k.ID)
			if len(found) != 1 {
				t.Fatalf("go-jose finds %d keys with kid %s", len(found), k.ID)
			}
			j := found[0]
			if !j.Valid() || !j.IsPublic() || j.Use != "sig" || j.Algorithm != k.Alg {
				t.Fatalf("valid=%v public=%v use=%q alg=%q", j.Valid(), j.IsPublic(), j.Use, j.Algorithm)
			}
			if !j.Key.(interface{ Equal(crypto.PublicKey) bool }).Equal(k.Public()) {
				t.Fatal("go-jose reads a different public key")
			}
			if len(j.Certificates) != len(k.Chain) {
				t.Fatalf("go-jose reads %d certificates, want %d", len(j.Certificates), len(k.Chain))
			}
		})
	}
	t.Run("no keys is an empty list", func(t *testing.T) {
		data, err := token.MarshalJWKS(nil)
		if err != nil || string(data) != `{"keys":[]}` {
			t.Fatalf("MarshalJWKS(nil) = %s, %v", data, err)
		}
	})
}

func TestJWKSRoundTripIndexesByKid(t *testing.T) {
	keys := []*token.Key{
		mustNewKey(t, testSigner(t, "rsa"), nil, token.KeyIDLibtrust),
		mustNewKey(t, testSigner(t, "p256"), nil, token.KeyIDThumbprint),
	}
	data, err := token.MarshalJWKS(keys)
	if err != nil {
		t.Fatal(err)
	}
	got, err := token.ParseJWKS(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("ParseJWKS indexed %d kids, want 2", len(got))
	}
	for _, k := range keys {
		if pub, ok := got[k.ID]; !ok || !pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(k.Public()) {
			t.Errorf("kid %s: missing or wrong key", k.ID)
		}
	}
}

// jwkJSON renders a key with go-jose, the way a third-party JWKS would be
// written, then lets a test edit the members.
func jwkJSON(t *testing.T, key any, edit func(m map[string]any)) map[string]any {
	t.Helper()
	data, err := json.Marshal(jose.JSONWebKey{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(m)
	}
	return m
}

func jwksOf(t *testing.T, keys ...map[string]any) []byte {
	return mustJSON(t, map[string]any{"keys": keys})
}

func TestJWKSWithoutKidIsIndexedUnderBothComputedForms(t *testing.T) {
	pub := testSigner(t, "p384").Public()
	got, err := token.ParseJWKS(jwksOf(t, jwkJSON(t, pub, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for _, kid := range []string{libtrustID(t, pub), thumbprint(t, pub)} {
		if _, ok := got[kid]; !ok {
			t.Errorf("kid %s missing from %d entries", kid, len(got))
		}
	}
}

func TestJWKSSkipsEncryptionKeys(t *testing.T) {
	got, err := token.ParseJWKS(jwksOf(t,
		jwkJSON(t, testSigner(t, "p256").Public(), func(m map[string]any) { m["kid"], m["use"] = "enc", "enc" }),
		jwkJSON(t, testSigner(t, "p384").Public(), func(m map[string]any) { m["kid"] = "sig" }),
	))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got["enc"]; ok || got["sig"] == nil {
		t.Fatalf("got kids %v, want only sig", mapKeys(got))
	}
}

func TestJWKSRejectsPrivateUnknownOrInvalidKeys(t *testing.T) {
	p256 := testSigner(t, "p256").(*ecdsa.PrivateKey)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p224raw, err := p224.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	good := jwkJSON(t, p256.Public(), nil)
	tests := []struct {
		name string
		data []byte
	}{
		{"private EC key (d)", jwksOf(t, jwkJSON(t, p256, nil))},
		{"private RSA key", jwksOf(t, jwkJSON(t, testSigner(t, "rsa"), nil))},
		{"symmetric key", jwksOf(t, map[string]any{"kty": "oct", "k": "c2VjcmV0"})},
		{"unknown kty", jwksOf(t, jwkJSON(t, p256.Public(), func(m map[string]any) { m["kty"] = "OKP" }))},
		{"RSA 1024", jwksOf(t, jwkJSON(t, small.Public(), nil))},
		{"P-224", jwksOf(t, map[string]any{"kty": "EC", "crv": "P-224", "x": b64(p224raw[1:29]), "y": b64(p224raw[29:])})},
		{"point not on the curve", jwksOf(t, jwkJSON(t, p256.Public(), func(m map[string]any) { m["y"] = m["x"] }))},
		{"short coordinate", jwksOf(t, jwkJSON(t, p256.Public(), func(m map[string]any) { m["x"] = m["x"].(string)[1:] }))},
		{"padded base64", jwksOf(t, jwkJSON(t, testSigner(t, "rsa").Public(), func(m map[string]any) { m["e"] = "AQAB=" }))},
		{"alg of another key type", jwksOf(t, jwkJSON(t, p256.Public(), func(m map[string]any) { m["alg"] = "RS256" }))},
		{"alg of another curve", jwksOf(t, jwkJSON(t, p256.Public(), func(m map[string]any) { m["alg"] = "ES384" }))},
		{"x5c of another key", jwksOf(t, jwkJSON(t, p256.Public(), func(m map[string]any) { m["x5c"] = x5c(sharedPKI(t).root) }))},
		{"kid given twice", jwksOf(t,
			jwkJSON(t, p256.Public(), func(m map[string]any) { m["kid"] = "a" }),
			jwkJSON(t, testSigner(t, "p384").Public(), func(m map[string]any) { m["kid"] = "a" }))},
		{"too many keys", jwksOf(t, repeat(good, 101)...)},
		{"oversize", []byte(`{"keys":[],"pad":"` + strings.Repeat("x", 1<<20) + `"}`)},
		{"no keys member", []byte(`{}`)},
		{"not JSON", []byte(`keys`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := token.ParseJWKS(tt.data)
			t.Log(err)
			if err == nil {
				t.Fatalf("ParseJWKS accepted it: kids %v", mapKeys(got))
			}
		})
	}
}

func TestJWKPublicKeyRoundTrip(t *testing.T) {
	for _, kind := range []string{"rsa", "p256", "p384", "p521"} {
		t.Run(kind, func(t *testing.T) {
			pub := testSigner(t, kind).Public()
			j, err := token.NewJWK(pub, "kid-"+kind, "")
			if err != nil {
				t.Fatal(err)
			}
			back, err := j.PublicKey()
			if err != nil {
				t.Fatal(err)
			}
			if !back.(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
				t.Fatal("round trip changed the key")
			}
		})
	}
	t.Run("alg must fit the key", func(t *testing.T) {
		if _, err := token.NewJWK(testSigner(t, "p256").Public(), "", "ES512"); err == nil {
			t.Fatal("ES512 accepted for a P-256 key")
		}
	})
}

func repeat(m map[string]any, n int) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		c := make(map[string]any, len(m)+1)
		for k, v := range m {
			c[k] = v
		}
		c["kid"] = fmt.Sprint(i)
		out[i] = c
	}
	return out
}

func mapKeys(m map[string]crypto.PublicKey) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
