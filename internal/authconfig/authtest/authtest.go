// Package authtest makes the files token server tests need: private keys
// with self-signed certificates, and the blog post's seed config. It is
// for tests only.
package authtest

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
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Passwords of the seed config's users (blog post section 7.3, made with
// htpasswd -Bbn at cost 5).
const (
	AdminHash  = "$2y$05$D5vyvbsZfuLKRX3PdDIyx.tx8kFOBKFlpyoBZ.O16Ovu25bI0IHf2" // adminpassword
	ReaderHash = "$2y$05$QLtmKINhomZ2iDdWqfXEW.MRGjeY7mJJIyjFgfywhGfy2lOk6gFQO" // readerpassword
)

// SlowHash is "slow" at bcrypt cost 11: a tenth of a second to check (10
// times that with -race), for tests that need a login to hold a bcrypt
// slot while they queue another; made once rather than in every run.
const SlowHash = "$2a$11$/UK9rCtEtTtXHQBb0hybieXnUUKJ1/mwjhix7dayvfHvGf1pGHiVa"

// KeyPair is a private key and its self-signed certificate on disk.
type KeyPair struct {
	Key, Cert string // paths
	Public    crypto.PublicKey
	X509      *x509.Certificate
}

// WriteKeyPair writes name.key (PKCS#8) and name.pem into dir. kind is
// "rsa" (2048 bits), "p256", "p384" or "p521".
func WriteKeyPair(t testing.TB, dir, name, kind string) KeyPair {
	t.Helper()
	var signer crypto.Signer
	var err error
	switch kind {
	case "rsa":
		signer, err = rsa.GenerateKey(rand.Reader, 2048)
	case "p256":
		signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "p384":
		signer, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "p521":
		signer, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	default:
		t.Fatalf("unknown key kind %q", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(signer)
	if err != nil {
		t.Fatal(err)
	}
	kp := KeyPair{Key: filepath.Join(dir, name+".key"), Cert: filepath.Join(dir, name+".pem"), Public: signer.Public()}
	WriteFile(t, kp.Key, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		DNSNames:     []string{"localhost"},
	}
	certDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, signer.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	if kp.X509, err = x509.ParseCertificate(certDER); err != nil {
		t.Fatal(err)
	}
	WriteFile(t, kp.Cert, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER})))
	return kp
}

// WriteFile writes content to a temporary name and renames it into place,
// as editors do, so a config watcher never reads half a file.
func WriteFile(t testing.TB, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// SeedConfig returns the auth_config.yml of the blog post (section 7.4)
// exactly as written, its /ssl/server.pem and /ssl/server.key replaced by
// certPath and keyPath.
func SeedConfig(t testing.TB, certPath, keyPath string) string {
	t.Helper()
	_, self, _, _ := runtime.Caller(0)
	seed, err := os.ReadFile(filepath.Join(filepath.Dir(self), "..", "testdata", "seed_auth_config.yml"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.NewReplacer("/ssl/server.pem", certPath, "/ssl/server.key", keyPath).Replace(string(seed))
}
