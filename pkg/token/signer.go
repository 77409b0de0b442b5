package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
)

// Key is one signing key: the private key, its optional certificate chain
// (leaf first), its key id and its JWS algorithm.
type Key struct {
	Signer crypto.Signer
	Chain  []*x509.Certificate
	ID     string // kid header
	Alg    string // RS256 for RSA; ES256/ES384/ES512 for P-256/384/521
}

// NewKey builds a Key. It checks that the key type is supported and that the
// leaf certificate (if any) holds signer's public key, and computes the kid in
// format ("" means KeyIDLibtrust).
func NewKey(signer crypto.Signer, chain []*x509.Certificate, format KeyIDFormat) (*Key, error) {
	if signer == nil {
		return nil, errors.New("no private key")
	}
	format, err := ParseKeyIDFormat(string(format))
	if err != nil {
		return nil, err
	}
	pub := signer.Public()
	alg, err := algFor(pub)
	if err != nil {
		return nil, err
	}
	if len(chain) > 0 {
		leaf, ok := chain[0].PublicKey.(interface{ Equal(crypto.PublicKey) bool })
		if !ok || !leaf.Equal(pub) {
			return nil, fmt.Errorf("certificate %q does not hold the public key of the private key", chain[0].Subject)
		}
	}
	kid, err := format.KeyID(pub)
	if err != nil {
		return nil, err
	}
	return &Key{Signer: signer, Chain: chain, ID: kid, Alg: alg}, nil
}

// LoadKey reads a PEM private key and, unless certFile is "", the PEM
// certificate chain that goes with it (leaf first). Errors name the file.
func LoadKey(keyFile, certFile string, format KeyIDFormat) (*Key, error) {
	data, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, err // *PathError names the file
	}
	signer, err := ParsePrivateKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyFile, err)
	}
	var chain []*x509.Certificate
	if certFile != "" {
		data, err := os.ReadFile(certFile)
		if err != nil {
			return nil, err
		}
		if chain, err = ParseCertificatesPEM(data); err != nil {
			return nil, fmt.Errorf("%s: %w", certFile, err)
		}
	}
	k, err := NewKey(signer, chain, format)
	if err != nil {
		name := keyFile
		if certFile != "" {
			name = keyFile + ", " + certFile
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return k, nil
}

// Public returns the public key.
func (k *Key) Public() crypto.PublicKey { return k.Signer.Public() }

// jwsHeader is the protected header of the tokens we sign.
type jwsHeader struct {
	Typ string   `json:"typ"`
	Alg string   `json:"alg"`
	Kid string   `json:"kid,omitempty"`
	X5c []string `json:"x5c,omitempty"`
}

// Sign returns c as a compact JWS with the header
// {"typ":"JWT","alg":k.Alg,"kid":k.ID,"x5c":[...]}, x5c holding the base64
// (standard, padded) DER of the chain when k.Chain is set.
//
// It signs through crypto.Signer rather than jwt's signing methods so that a
// key held elsewhere (an HSM, an agent) works too.
func (k *Key) Sign(c *Claims) (string, error) {
	if k == nil || k.Signer == nil {
		return "", errors.New("no signing key")
	}
	if c == nil {
		return "", errors.New("no claims to sign")
	}
	h := jwsHeader{Typ: "JWT", Alg: k.Alg, Kid: k.ID}
	for _, cert := range k.Chain {
		h.X5c = append(h.X5c, base64.StdEncoding.EncodeToString(cert.Raw))
	}
	header, err := json.Marshal(h)
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	signingInput := b64(header) + "." + b64(payload)
	sig, err := k.signRaw([]byte(signingInput))
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return signingInput + "." + b64(sig), nil
}

// signRaw signs data with k.Alg and returns the JWS signature bytes.
func (k *Key) signRaw(data []byte) ([]byte, error) {
	hash, err := algHash(k.Alg)
	if err != nil {
		return nil, err
	}
	h := hash.New()
	h.Write(data)
	digest := h.Sum(nil)
	switch pub := k.Signer.Public().(type) {
	case *rsa.PublicKey:
		if !strings.HasPrefix(k.Alg, "RS") {
			return nil, fmt.Errorf("algorithm %s does not fit an RSA key", k.Alg)
		}
		return k.Signer.Sign(rand.Reader, digest, hash)
	case *ecdsa.PublicKey:
		want, err := algFor(pub)
		if err != nil {
			return nil, err
		}
		if k.Alg != want {
			return nil, fmt.Errorf("algorithm %s does not fit a %s key", k.Alg, pub.Curve.Params().Name)
		}
		der, err := k.Signer.Sign(rand.Reader, digest, hash)
		if err != nil {
			return nil, err
		}
		// crypto.Signer returns ASN.1 (r, s); JWS wants r || s, each
		// left-padded to the curve size (RFC 7518 section 3.4).
		var rs struct{ R, S *big.Int }
		if rest, err := asn1.Unmarshal(der, &rs); err != nil || len(rest) > 0 {
			return nil, errors.New("malformed ECDSA signature from signer")
		}
		size := (pub.Curve.Params().BitSize + 7) / 8
		if rs.R == nil || rs.S == nil || rs.R.Sign() <= 0 || rs.S.Sign() <= 0 ||
			rs.R.BitLen() > 8*size || rs.S.BitLen() > 8*size {
			return nil, errors.New("malformed ECDSA signature from signer")
		}
		out := make([]byte, 2*size)
		rs.R.FillBytes(out[:size])
		rs.S.FillBytes(out[size:])
		return out, nil
	default:
		return nil, fmt.Errorf("unsupported key type %T", pub)
	}
}

// algHash returns the hash an RS/PS/ES algorithm signs.
func algHash(alg string) (crypto.Hash, error) {
	if len(alg) == 5 && (strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS") || strings.HasPrefix(alg, "ES")) {
		switch alg[2:] {
		case "256":
			return crypto.SHA256, nil
		case "384":
			return crypto.SHA384, nil
		case "512":
			return crypto.SHA512, nil
		}
	}
	return 0, fmt.Errorf("unsupported algorithm %q", alg)
}
