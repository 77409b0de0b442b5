package token_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/wharf-registry/wharf/pkg/token"
)

// The expected libtrust ids were computed outside Go, with openssl and
// coreutils, from the fixed keys in testdata:
//
//	openssl pkey -in K.pem -pubout -outform DER | sha256sum | cut -c1-60 |
//	  xxd -r -p | base32 -w0 | sed 's/=*$//' | fold -w4 | paste -sd:
func TestLibtrustKeyIDMatchesOpensslDerivation(t *testing.T) {
	tests := []struct {
		file, want string
	}{
		{"testdata/rsa2048.pem", "MB6K:7VDP:ZYVU:6SKU:BQNB:FLS4:EYET:BWT5:E4JD:463M:2FJM:DXKW"},
		{"testdata/ec256.pem", "ZLSQ:NTYZ:YRIH:RUKT:SPEJ:PQXB:3XDN:KXZP:FI6H:7GSK:FNOD:5NYR"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			k := mustParseKeyFile(t, tt.file)
			if got := libtrustID(t, k.Public()); got != tt.want {
				t.Fatalf("LibtrustKeyID = %s, want %s", got, tt.want)
			}
			key := mustNewKey(t, k, nil, token.KeyIDLibtrust)
			if key.ID != tt.want {
				t.Fatalf("NewKey(libtrust).ID = %s, want %s", key.ID, tt.want)
			}
		})
	}
}

// The example key of RFC 7638 section 3.1 and its published thumbprint.
func TestThumbprintMatchesRFC7638Example(t *testing.T) {
	n, err := base64.RawURLEncoding.DecodeString("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")
	if err != nil {
		t.Fatal(err)
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537}
	if got, want := thumbprint(t, pub), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Fatalf("Thumbprint = %s, want %s", got, want)
	}
}

// go-jose computes RFC 7638 thumbprints with its own code; both must agree.
func TestThumbprintAgreesWithGoJose(t *testing.T) {
	for _, kind := range []string{"rsa", "ec256-fixed", "p256", "p384", "p521"} {
		t.Run(kind, func(t *testing.T) {
			pub := testSigner(t, kind).Public()
			want, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			if got := thumbprint(t, pub); got != base64.RawURLEncoding.EncodeToString(want) {
				t.Fatalf("Thumbprint = %s, go-jose says %s", got, base64.RawURLEncoding.EncodeToString(want))
			}
		})
	}
}

// About one P-256 key in 128 has a coordinate below 2^248; its JWK and
// thumbprint must still use 32 bytes (distribution v3 drops the zero).
func TestThumbprintPadsShortECCoordinates(t *testing.T) {
	var key *ecdsa.PrivateKey
	var x, y []byte
	for i := 0; ; i++ {
		if i == 10000 {
			t.Fatal("no key with a short coordinate in 10000 tries")
		}
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := k.PublicKey.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if raw[1] == 0 || raw[33] == 0 {
			key, x, y = k, raw[1:33], raw[33:]
			break
		}
	}
	canonical := fmt.Sprintf(`{"crv":"P-256","kty":"EC","x":"%s","y":"%s"}`, b64(x), b64(y))
	sum := sha256.Sum256([]byte(canonical))
	if got := thumbprint(t, &key.PublicKey); got != b64(sum[:]) {
		t.Fatalf("Thumbprint = %s, want %s (of %s)", got, b64(sum[:]), canonical)
	}
	j, err := token.NewJWK(&key.PublicKey, "k", "")
	if err != nil {
		t.Fatal(err)
	}
	if j.X != b64(x) || j.Y != b64(y) {
		t.Fatalf("JWK x, y = %s, %s; want full-length %s, %s", j.X, j.Y, b64(x), b64(y))
	}
}

func TestKeyIDFormatParsing(t *testing.T) {
	tests := []struct {
		in      string
		want    token.KeyIDFormat
		wantErr bool
	}{
		{"", token.KeyIDLibtrust, false},
		{"libtrust", token.KeyIDLibtrust, false},
		{"jwk-thumbprint", token.KeyIDThumbprint, false},
		{"thumbprint", "", true},
		{"LIBTRUST", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := token.ParseKeyIDFormat(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("ParseKeyIDFormat(%q) = %q, %v", tt.in, got, err)
			}
		})
	}
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestPrivateKeyPEMFormats(t *testing.T) {
	rsaKey := testSigner(t, "rsa").(*rsa.PrivateKey)
	ecKey := testSigner(t, "p384").(*ecdsa.PrivateKey)
	pkcs8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pemBlock("PRIVATE KEY", der)
	}
	sec1 := func(k *ecdsa.PrivateKey) []byte {
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pemBlock("EC PRIVATE KEY", der)
	}
	fixedEC, err := os.ReadFile("testdata/ec256.pem")
	if err != nil {
		t.Fatal(err)
	}
	cert := leafCert(t, rsaKey, sharedPKI(t).root, sharedPKI(t).rootKey)
	tests := []struct {
		name string
		data []byte
		want crypto.PublicKey
	}{
		{"PKCS#1 RSA", pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)), rsaKey.Public()},
		{"PKCS#8 RSA", pkcs8(rsaKey), rsaKey.Public()},
		{"SEC1 EC", sec1(ecKey), ecKey.Public()},
		{"PKCS#8 EC", pkcs8(ecKey), ecKey.Public()},
		{"openssl ecparam output with EC PARAMETERS first", fixedEC, testSigner(t, "ec256-fixed").Public()},
		{"key after a certificate", append(pemBlock("CERTIFICATE", cert.Raw), pkcs8(rsaKey)...), rsaKey.Public()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := token.ParsePrivateKeyPEM(tt.data)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(tt.want) {
				t.Fatal("parsed a different key")
			}
		})
	}
}

func TestPrivateKeyPEMRejectsWeakOrUnsupportedKeys(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p224DER, err := x509.MarshalECPrivateKey(p224)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edDER, err := x509.MarshalPKCS8PrivateKey(edKey)
	if err != nil {
		t.Fatal(err)
	}
	rsaPEM := pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(testSigner(t, "rsa").(*rsa.PrivateKey)))
	legacyEncrypted := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY",
		Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00112233445566778899AABBCCDDEEFF"},
		Bytes:   []byte("ciphertext")})
	tests := []struct {
		name, data, errSubstr string
	}{
		{"RSA 1024", string(pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(small))), "too small"},
		{"P-224", string(pemBlock("EC PRIVATE KEY", p224DER)), "curve"},
		{"Ed25519", string(pemBlock("PRIVATE KEY", edDER)), "unsupported key type"},
		{"PKCS#8 encrypted", string(pemBlock("ENCRYPTED PRIVATE KEY", []byte("x"))), "encrypted"},
		{"legacy encrypted", string(legacyEncrypted), "encrypted"},
		{"no key", "hello", "no private key"},
		{"only a certificate", string(pemBlock("CERTIFICATE", sharedPKI(t).root.Raw)), "no private key"},
		{"garbage DER", string(pemBlock("PRIVATE KEY", []byte{0x30, 0x01, 0x00})), "PRIVATE KEY"},
		{"two keys", string(rsaPEM) + string(rsaPEM), "more than one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := token.ParsePrivateKeyPEM([]byte(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.errSubstr) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.errSubstr)
			}
		})
	}
}

func TestCertificatePEMReadsEveryCertificateInOrder(t *testing.T) {
	p := sharedPKI(t)
	leaf := leafCert(t, testSigner(t, "p256"), p.inter, p.interKey)
	data := append(pemBlock("CERTIFICATE", leaf.Raw), pemBlock("EC PRIVATE KEY", []byte("ignored"))...)
	data = append(data, pemBlock("CERTIFICATE", p.inter.Raw)...)
	certs, err := token.ParseCertificatesPEM(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != 2 || !certs[0].Equal(leaf) || !certs[1].Equal(p.inter) {
		t.Fatalf("got %d certificates, want leaf then intermediate", len(certs))
	}
	for name, bad := range map[string][]byte{
		"none":    []byte("no pem here"),
		"garbage": pemBlock("CERTIFICATE", []byte("junk")),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := token.ParseCertificatesPEM(bad); err == nil {
				t.Fatal("no error")
			}
		})
	}
}
