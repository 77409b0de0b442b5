package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// KeyIDFormat selects how a key id ("kid") is derived from a public key.
// Registries look trusted keys up by kid, and the two generations of
// distribution disagree on the form, so it is configurable.
type KeyIDFormat string

const (
	// KeyIDLibtrust is the docker/libtrust fingerprint, which registry:2
	// (distribution v2.8) indexes its trusted keys by.
	KeyIDLibtrust KeyIDFormat = "libtrust"
	// KeyIDThumbprint is the RFC 7638 JWK thumbprint, which distribution v3
	// (registry:3) indexes its trusted keys by.
	KeyIDThumbprint KeyIDFormat = "jwk-thumbprint"
)

// minRSABits is the smallest RSA modulus accepted for signing or verifying.
const minRSABits = 2048

// ParseKeyIDFormat parses a configured key id format; "" means the default,
// KeyIDLibtrust, because a token with x5c and a libtrust kid is accepted by
// both registry generations.
func ParseKeyIDFormat(s string) (KeyIDFormat, error) {
	switch KeyIDFormat(s) {
	case "", KeyIDLibtrust:
		return KeyIDLibtrust, nil
	case KeyIDThumbprint:
		return KeyIDThumbprint, nil
	}
	return "", fmt.Errorf("unknown key id format %q (want %q or %q)", s, KeyIDLibtrust, KeyIDThumbprint)
}

// KeyID computes the kid of pub in this format.
func (f KeyIDFormat) KeyID(pub crypto.PublicKey) (string, error) {
	switch f {
	case KeyIDLibtrust:
		return LibtrustKeyID(pub)
	case KeyIDThumbprint:
		return Thumbprint(pub)
	}
	return "", fmt.Errorf("unknown key id format %q", string(f))
}

// LibtrustKeyID returns the docker/libtrust key id of pub: the SHA-256 of
// its PKIX DER encoding, truncated to 30 bytes (240 bits), base32 (RFC 4648
// standard alphabet, no padding), in 12 groups of 4 characters joined by ':'.
func LibtrustKeyID(pub crypto.PublicKey) (string, error) {
	if err := checkPublicKey(pub); err != nil {
		return "", err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("encode public key: %w", err)
	}
	sum := sha256.Sum256(der)
	enc := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:30])
	groups := make([]string, 0, len(enc)/4)
	for i := 0; i < len(enc); i += 4 {
		groups = append(groups, enc[i:i+4])
	}
	return strings.Join(groups, ":"), nil
}

// Thumbprint returns the RFC 7638 JWK thumbprint of pub: base64url (no
// padding) of the SHA-256 of the canonical JWK, whose members are the
// required ones in lexical order. EC coordinates are the full curve size,
// left-padded with zeros as RFC 7518 section 6.2.1.2 requires
// (distribution drops the padding for about one key in 128).
func Thumbprint(pub crypto.PublicKey) (string, error) {
	if err := checkPublicKey(pub); err != nil {
		return "", err
	}
	var canonical any
	switch k := pub.(type) {
	case *rsa.PublicKey:
		// Struct fields marshal in declaration order: keep them sorted.
		canonical = struct {
			E   string `json:"e"`
			Kty string `json:"kty"`
			N   string `json:"n"`
		}{b64(bigEndian(uint64(k.E))), "RSA", b64(k.N.Bytes())}
	case *ecdsa.PublicKey:
		crv, x, y, err := ecCoordinates(k)
		if err != nil {
			return "", err
		}
		canonical = struct {
			Crv string `json:"crv"`
			Kty string `json:"kty"`
			X   string `json:"x"`
			Y   string `json:"y"`
		}{crv, "EC", b64(x), b64(y)}
	}
	data, err := json.Marshal(canonical)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return b64(sum[:]), nil
}

// ParsePrivateKeyPEM parses the first private key in PEM data: PKCS#1
// ("RSA PRIVATE KEY"), SEC1 ("EC PRIVATE KEY", possibly after an
// "EC PARAMETERS" block as openssl writes it) or PKCS#8 ("PRIVATE KEY").
// Only RSA keys of at least 2048 bits and ECDSA keys on P-256, P-384 and
// P-521 are accepted; encrypted keys are rejected.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	var signer crypto.Signer
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		var key any
		var err error
		switch block.Type {
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("encrypted private keys are not supported: decrypt it first (openssl pkey -in key.pem -out plain.pem)")
		default:
			continue // certificates, EC PARAMETERS, ...
		}
		if block.Headers["Proc-Type"] != "" {
			return nil, errors.New("encrypted private keys are not supported: decrypt it first (openssl pkey -in key.pem -out plain.pem)")
		}
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", block.Type, err)
		}
		if signer != nil {
			return nil, errors.New("more than one private key in PEM data")
		}
		s, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("unsupported private key type %T", key)
		}
		if err := checkPublicKey(s.Public()); err != nil {
			return nil, err
		}
		signer = s
	}
	if signer == nil {
		return nil, errors.New("no private key found in PEM data")
	}
	return signer, nil
}

// ParseCertificatesPEM parses every CERTIFICATE block in PEM data, in order,
// ignoring other blocks. It fails if there is none.
func ParseCertificatesPEM(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no CERTIFICATE found in PEM data")
	}
	return certs, nil
}

// checkPublicKey accepts exactly the key types tokens may be signed with.
func checkPublicKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k == nil || k.N == nil {
			return errors.New("empty RSA public key")
		}
		if k.N.BitLen() < minRSABits {
			return fmt.Errorf("RSA key of %d bits is too small: need at least %d", k.N.BitLen(), minRSABits)
		}
		if k.E < 3 || k.E%2 == 0 {
			return fmt.Errorf("invalid RSA public exponent %d", k.E)
		}
		return nil
	case *ecdsa.PublicKey:
		if k == nil || k.Curve == nil {
			return errors.New("empty ECDSA public key")
		}
		_, _, _, err := ecCoordinates(k)
		return err
	case nil:
		return errors.New("no public key")
	}
	return fmt.Errorf("unsupported key type %T: want RSA (>= %d bits) or ECDSA P-256/P-384/P-521", pub, minRSABits)
}

// ecCoordinates returns the JWK curve name and the fixed-length big-endian
// coordinates of k.
func ecCoordinates(k *ecdsa.PublicKey) (crv string, x, y []byte, err error) {
	switch k.Curve {
	case elliptic.P256():
		crv = "P-256"
	case elliptic.P384():
		crv = "P-384"
	case elliptic.P521():
		crv = "P-521"
	default:
		return "", nil, nil, fmt.Errorf("unsupported ECDSA curve %s: want P-256, P-384 or P-521", k.Curve.Params().Name)
	}
	// Bytes is 0x04 || X || Y with each coordinate already left-padded.
	raw, err := k.Bytes()
	if err != nil {
		return "", nil, nil, fmt.Errorf("invalid ECDSA public key: %w", err)
	}
	size := (len(raw) - 1) / 2
	return crv, raw[1 : 1+size], raw[1+size:], nil
}

// algFor returns the JWS algorithm a key of this type signs with.
func algFor(pub crypto.PublicKey) (string, error) {
	if err := checkPublicKey(pub); err != nil {
		return "", err
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return "RS256", nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return "ES256", nil
		case elliptic.P384():
			return "ES384", nil
		default:
			return "ES512", nil
		}
	}
	return "", fmt.Errorf("unsupported key type %T", pub)
}

// bigEndian returns v without leading zero bytes, as JWK integers are written.
func bigEndian(v uint64) []byte {
	var b []byte
	for ; v > 0; v >>= 8 {
		b = append([]byte{byte(v)}, b...)
	}
	return b
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
