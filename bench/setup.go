package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// The issuer and service the generated configs agree on.
const (
	issuer  = "wharf-bench"
	service = "wharf-bench-registry"
)

// account is a user of the generated auth config.
type account struct{ name, password string }

// stackFiles are the generated keys and the auth config of a run.
type stackFiles struct {
	caFile            string // the registry's rootcertbundle
	certFile, keyFile string // the token signing certificate and key
	authConfig        string
	usersYAML         string
	admin, ci         account
	fresh             []account // row 5: users that have never logged in
}

// writeStack generates a CA, a token signing key with a certificate the CA
// issued, and an auth config in dir. Every password is hashed at bcrypt
// cost 10, the cost docker_auth deployments use. The fresh users share one
// hash: a cache keyed by user, password and hash still sees each of them
// for the first time, and only one cost-10 hash has to be made here.
func writeStack(dir, keyKind string, freshUsers int) (*stackFiles, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	ca, err := makeCert(&x509.Certificate{
		Subject:               pkix.Name{CommonName: "wharf bench CA"},
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}, nil, caKey, caKey.Public())
	if err != nil {
		return nil, err
	}
	var signer crypto.Signer
	if keyKind == "rsa" {
		signer, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		return nil, err
	}
	leaf, err := makeCert(&x509.Certificate{
		Subject:  pkix.Name{CommonName: "wharf bench token signer"},
		KeyUsage: x509.KeyUsageDigitalSignature,
	}, ca, caKey, signer.Public())
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(signer)
	if err != nil {
		return nil, err
	}
	f := &stackFiles{
		caFile: filepath.Join(dir, "ca.pem"),
		admin:  account{"admin", randomPassword()},
		ci:     account{"ci", randomPassword()},
	}
	certFile, keyFile := filepath.Join(dir, "token.pem"), filepath.Join(dir, "token.key")
	if err := writeFiles(map[string][]byte{
		f.caFile: pemBlock("CERTIFICATE", ca.Raw),
		certFile: pemBlock("CERTIFICATE", leaf.Raw),
		keyFile:  pemBlock("PRIVATE KEY", keyDER),
	}); err != nil {
		return nil, err
	}

	var users strings.Builder
	for _, a := range []account{f.admin, f.ci} {
		h, err := bcrypt.GenerateFromPassword([]byte(a.password), bcrypt.DefaultCost)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&users, "  %q:\n    password: %q\n", a.name, h)
	}
	freshPassword := randomPassword()
	freshHash, err := bcrypt.GenerateFromPassword([]byte(freshPassword), bcrypt.DefaultCost)
	if err != nil {
		return nil, err
	}
	for i := range freshUsers {
		a := account{fmt.Sprintf("fresh-%05d", i), freshPassword}
		f.fresh = append(f.fresh, a)
		fmt.Fprintf(&users, "  %q:\n    password: %q\n", a.name, freshHash)
	}
	f.usersYAML = users.String()
	f.certFile, f.keyFile = certFile, keyFile
	f.authConfig = filepath.Join(dir, "auth_config.yml")
	return f, nil
}

// authConfigYAML is docker_auth's static users and ACL format with our
// token.services. admin may do anything (the catalog included), ci and the
// fresh users push and pull bench/*, and anyone, anonymous included, pulls
// public/*. Access log lines are on, as deployed.
const authConfigYAML = `server:
  addr: "127.0.0.1:%d"
token:
  issuer: %q
  expiration: 900
  certificate: %q
  key: %q
  services: [%q]
users:
  "": {}
%sacl:
  - match: {account: "admin"}
    actions: ["*"]
  - match: {account: "/^(ci|fresh-[0-9]+)$/", type: "repository", name: "bench/*"}
    actions: ["pull", "push"]
  - match: {type: "repository", name: "public/*"}
    actions: ["pull"]
`

// writeAuthConfig writes the auth config for a server on port.
func (f *stackFiles) writeAuthConfig(port int) error {
	cfg := fmt.Sprintf(authConfigYAML, port, issuer, f.certFile, f.keyFile, service, f.usersYAML)
	return os.WriteFile(f.authConfig, []byte(cfg), 0o600)
}

// registryConfigYAML is registry:2's format: filesystem storage, deletes
// on, access log on, and the auth section (empty for auth off).
const registryConfigYAML = `version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: %q
  delete:
    enabled: true
http:
  addr: "127.0.0.1:%d"
%s`

// tokenAuthYAML is the registry's auth section for the token flow.
func (f *stackFiles) tokenAuthYAML(realm string) string {
	return fmt.Sprintf("auth:\n  token:\n    realm: %q\n    service: %q\n    issuer: %q\n    rootcertbundle: %q\n",
		realm, service, issuer, f.caFile)
}

// writeRegistryConfig writes a registry config to file.
func writeRegistryConfig(file, root string, port int, authYAML string) error {
	return os.WriteFile(file, []byte(fmt.Sprintf(registryConfigYAML, root, port, authYAML)), 0o600)
}

// makeCert signs tmpl with key (self-signed when parent is nil).
func makeCert(tmpl, parent *x509.Certificate, key crypto.Signer, pub crypto.PublicKey) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func writeFiles(files map[string][]byte) error {
	for name, data := range files {
		if err := os.WriteFile(name, data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func randomPassword() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
