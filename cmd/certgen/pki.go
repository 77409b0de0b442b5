package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"slices"
	"strings"
	"time"
)

// Validity periods. The server certificate stays under 825 days because
// Apple clients and some browsers refuse longer-lived TLS certificates; the
// CA and the token signer live longer because replacing them means touching
// every Docker client (CA) or every registry (token certificate).
const (
	caValidity     = 10 * 365 * 24 * time.Hour
	serverValidity = 825 * 24 * time.Hour
	tokenValidity  = 5 * 365 * 24 * time.Hour
	// backdate covers clocks of containers and clients that run a little
	// behind the machine that made the certificate.
	backdate = time.Hour
)

// defaultSANs are the names every server certificate answers to: the
// loopback names used by `make run`, the published compose ports, and the
// compose service names the containers use to reach each other.
var defaultSANs = []string{"localhost", "127.0.0.1", "::1", "registry", "auth"}

// pair is a private key with its certificate.
type pair struct {
	key  crypto.Signer
	cert *x509.Certificate
}

// newKey makes a private key of the named kind: "ecdsa" (P-256) or "rsa" (2048 bits).
func newKey(kind string) (crypto.Signer, error) {
	switch kind {
	case "ecdsa":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "rsa":
		return rsa.GenerateKey(rand.Reader, 2048)
	default:
		return nil, fmt.Errorf("unknown key type %q (want ecdsa or rsa)", kind)
	}
}

// serial returns a random positive 128-bit serial number, as RFC 5280 asks
// for unpredictable serials.
func serial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	return n.Add(n, big.NewInt(1)), nil
}

// subjectKeyID is the RFC 5280 §4.2.1.2 method (1) key identifier, so
// chains built by other tools can find the issuer by key id.
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, err
	}
	sum := sha1.Sum(spki.PublicKey.Bytes)
	return sum[:], nil
}

// issue signs template with parent (nil parent: self-signed) and returns
// the parsed certificate.
func issue(template *x509.Certificate, key crypto.Signer, parent *pair) (*x509.Certificate, error) {
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	ski, err := subjectKeyID(key.Public())
	if err != nil {
		return nil, err
	}
	template.SerialNumber = sn
	template.SubjectKeyId = ski
	now := time.Now()
	template.NotBefore = now.Add(-backdate)
	signerCert, signerKey := template, key
	if parent != nil {
		signerCert, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, template, signerCert, key.Public(), signerKey)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// newCA makes the local certificate authority that Docker clients are told
// to trust. It may sign only end-entity certificates (path length 0).
func newCA(kind string) (*pair, error) {
	key, err := newKey(kind)
	if err != nil {
		return nil, err
	}
	cert, err := issue(&x509.Certificate{
		Subject:               pkix.Name{CommonName: "Wharf local CA", Organization: []string{"wharf"}},
		NotAfter:              time.Now().Add(caValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, key, nil)
	if err != nil {
		return nil, err
	}
	return &pair{key: key, cert: cert}, nil
}

// newServer makes the TLS certificate shared by the registry and the auth
// server, signed by ca, valid for every name in sans.
func newServer(kind string, ca *pair, sans []string) (*pair, error) {
	key, err := newKey(kind)
	if err != nil {
		return nil, err
	}
	t := &x509.Certificate{
		Subject:               pkix.Name{CommonName: sans[0], Organization: []string{"wharf"}},
		NotAfter:              time.Now().Add(serverValidity),
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		AuthorityKeyId:        ca.cert.SubjectKeyId,
	}
	if _, ok := key.(*rsa.PrivateKey); ok {
		// RSA key exchange in TLS 1.2 encrypts with the key.
		t.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	for _, name := range sans {
		if ip := net.ParseIP(name); ip != nil {
			t.IPAddresses = append(t.IPAddresses, ip)
		} else {
			t.DNSNames = append(t.DNSNames, name)
		}
	}
	cert, err := issue(t, key, ca)
	if err != nil {
		return nil, err
	}
	return &pair{key: key, cert: cert}, nil
}

// newTokenSigner makes the key the auth server signs tokens with and a
// self-signed certificate for it: the registry's rootcertbundle. It is
// self-signed rather than CA-signed so that trusting it for tokens never
// means trusting the TLS CA for tokens, or the reverse.
func newTokenSigner(kind string) (*pair, error) {
	key, err := newKey(kind)
	if err != nil {
		return nil, err
	}
	cert, err := issue(&x509.Certificate{
		Subject:               pkix.Name{CommonName: "Wharf token signer", Organization: []string{"wharf"}},
		NotAfter:              time.Now().Add(tokenValidity),
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
	}, key, nil)
	if err != nil {
		return nil, err
	}
	return &pair{key: key, cert: cert}, nil
}

// missingSANs returns the names cert does not list among its subject
// alternative names (IPs compared as addresses, DNS names without case).
func missingSANs(cert *x509.Certificate, names []string) []string {
	var missing []string
	for _, name := range names {
		if !slices.ContainsFunc(sanList(cert), func(have string) bool { return sameName(have, name) }) {
			missing = append(missing, name)
		}
	}
	return missing
}

// union returns a followed by the names of b that a lacks.
func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, name := range b {
		if !slices.ContainsFunc(out, func(have string) bool { return sameName(have, name) }) {
			out = append(out, name)
		}
	}
	return out
}

// sameName reports whether two SAN entries name the same host.
func sameName(a, b string) bool {
	if ipA, ipB := net.ParseIP(a), net.ParseIP(b); ipA != nil || ipB != nil {
		return ipA != nil && ipB != nil && ipA.Equal(ipB)
	}
	return strings.EqualFold(a, b)
}

// signedBy reports whether cert was issued by ca's key.
func signedBy(cert *x509.Certificate, ca *x509.Certificate) bool {
	return cert.CheckSignatureFrom(ca) == nil
}

// matches reports whether key is the private half of cert.
func matches(key crypto.Signer, cert *x509.Certificate) bool {
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(cert.PublicKey)
}

// encodeKey renders a private key as PKCS#8 PEM, which Go, OpenSSL,
// docker_auth and distribution all read.
func encodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// encodeCert renders a certificate as PEM.
func encodeCert(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}

// decodePair parses a PEM key and a PEM certificate and checks they belong together.
func decodePair(keyPEM, certPEM []byte) (*pair, error) {
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, errors.New("no PEM block in key")
	}
	var parsed any
	var err error
	switch kb.Type {
	case "PRIVATE KEY":
		parsed, err = x509.ParsePKCS8PrivateKey(kb.Bytes)
	case "EC PRIVATE KEY":
		parsed, err = x509.ParseECPrivateKey(kb.Bytes)
	case "RSA PRIVATE KEY":
		parsed, err = x509.ParsePKCS1PrivateKey(kb.Bytes)
	default:
		return nil, fmt.Errorf("unexpected PEM block %q in key", kb.Type)
	}
	if err != nil {
		return nil, err
	}
	key, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, errors.New("key cannot sign")
	}
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, errors.New("no CERTIFICATE block")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, err
	}
	if !matches(key, cert) {
		return nil, errors.New("key does not match certificate")
	}
	return &pair{key: key, cert: cert}, nil
}

// sansFor returns the default names plus extra hosts, without duplicates,
// keeping the first extra host first so it becomes the certificate's CN.
func sansFor(hosts []string) []string {
	var out []string
	for _, h := range append(slices.Clone(hosts), defaultSANs...) {
		if h != "" && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

// sanList returns the DNS names and IP addresses a certificate is valid for.
func sanList(cert *x509.Certificate) []string {
	out := slices.Clone(cert.DNSNames)
	for _, ip := range cert.IPAddresses {
		out = append(out, ip.String())
	}
	return out
}
