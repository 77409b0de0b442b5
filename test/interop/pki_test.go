package interop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/internal/testkit"
)

// keyType is one kind of token signing key auth supports.
type keyType struct {
	name string
	gen  func() (crypto.Signer, error)
}

var keyTypes = []keyType{
	{"RSA-2048", func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, 2048) }},
	{"P-256", func() (crypto.Signer, error) { return fullLengthEC(elliptic.P256()) }},
	{"P-384", func() (crypto.Signer, error) { return fullLengthEC(elliptic.P384()) }},
}

// fullLengthEC returns an EC key whose x and y both fill the curve size.
// distribution v3 computes the RFC 7638 thumbprint of a root certificate's
// key without left-padding the coordinates (NOTES.md), so for about one key
// in 128 it indexes the key under a thumbprint nobody else computes; a
// random key would make these tests fail that often. The short-coordinate
// case is pinned on its own in TestV3ThumbprintOfShortECCoordinate.
func fullLengthEC(curve elliptic.Curve) (crypto.Signer, error) {
	size := (curve.Params().BitSize + 7) / 8
	for {
		k, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			return nil, err
		}
		if len(k.X.Bytes()) == size && len(k.Y.Bytes()) == size {
			return k, nil
		}
	}
}

// tokenPKI is one token signing key and the files around it (paths in a
// temp dir):
//
//	token.key   the private key (PKCS #8 PEM), auth's token.key
//	leaf.crt    its certificate, issued by the CA: auth's token.certificate
//	            in the CA-issued mode
//	ca.crt      the CA: a registry's rootcertbundle for x5c tokens
//	self.crt    a self-signed certificate of the key: a registry's
//	            rootcertbundle for tokens without x5c (registry:2 trusts a
//	            key only through a certificate), and both token.certificate
//	            and rootcertbundle in the self-signed mode
type tokenPKI struct {
	key, leaf, ca, self string
}

// newTokenPKI generates a key of type kt and its certificates.
func newTokenPKI(t *testing.T, kt keyType) *tokenPKI {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := certTemplate(1, "wharf interop token CA")
	caTmpl.IsCA, caTmpl.BasicConstraintsValid = true, true
	caTmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	caDER := createCert(t, caTmpl, caTmpl, caKey.Public(), caKey)
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}

	signer, err := kt.gen()
	if err != nil {
		t.Fatal(err)
	}
	leafDER := createCert(t, certTemplate(2, "wharf interop token signer"), ca, signer.Public(), caKey)
	selfTmpl := certTemplate(3, "wharf interop token signer (self-signed)")
	selfDER := createCert(t, selfTmpl, selfTmpl, signer.Public(), signer)

	keyDER, err := x509.MarshalPKCS8PrivateKey(signer)
	if err != nil {
		t.Fatal(err)
	}
	return &tokenPKI{
		key:  testkit.WriteFile(t, dir, "token.key", pemBlock("PRIVATE KEY", keyDER)),
		leaf: testkit.WriteFile(t, dir, "leaf.crt", pemBlock("CERTIFICATE", leafDER)),
		ca:   testkit.WriteFile(t, dir, "ca.crt", pemBlock("CERTIFICATE", caDER)),
		self: testkit.WriteFile(t, dir, "self.crt", pemBlock("CERTIFICATE", selfDER)),
	}
}

// certTemplate is valid from an hour ago for a day: wide margins, since
// the stock verifiers check chains against the wall clock.
func certTemplate(serial int64, cn string) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
}

func createCert(t *testing.T, tmpl, parent *x509.Certificate, pub crypto.PublicKey, priv crypto.Signer) []byte {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
