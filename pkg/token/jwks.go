package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// Bounds on JWKS documents, checked before decoding: real sets hold a handful
// of keys, and a JWKS may come from the network.
const (
	maxJWKSSize = 1 << 20
	maxJWKSKeys = 100
	maxX5c      = 10
)

// JWK is the public form of a JSON Web Key (RFC 7517) as published in a
// JWKS: RSA keys carry n and e, EC keys crv, x and y.
type JWK struct {
	Kty string   `json:"kty"`
	Kid string   `json:"kid,omitempty"`
	Use string   `json:"use,omitempty"`
	Alg string   `json:"alg,omitempty"`
	N   string   `json:"n,omitempty"`
	E   string   `json:"e,omitempty"`
	Crv string   `json:"crv,omitempty"`
	X   string   `json:"x,omitempty"`
	Y   string   `json:"y,omitempty"`
	X5c []string `json:"x5c,omitempty"` // base64 (standard) DER, leaf first
}

// privateMembers are JWK members that only private or symmetric keys have.
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// NewJWK returns the public JWK of pub with use "sig". alg may be "" to
// derive it from the key (RS256 for RSA); otherwise it must fit the key.
func NewJWK(pub crypto.PublicKey, kid, alg string) (JWK, error) {
	if err := checkPublicKey(pub); err != nil {
		return JWK{}, err
	}
	if alg == "" {
		alg, _ = algFor(pub)
	}
	if err := checkAlg(alg, pub); err != nil {
		return JWK{}, err
	}
	j := JWK{Kid: kid, Use: "sig", Alg: alg}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		j.Kty, j.N, j.E = "RSA", b64(k.N.Bytes()), b64(bigEndian(uint64(k.E)))
	case *ecdsa.PublicKey:
		crv, x, y, err := ecCoordinates(k)
		if err != nil {
			return JWK{}, err
		}
		j.Kty, j.Crv, j.X, j.Y = "EC", crv, b64(x), b64(y)
	}
	return j, nil
}

// PublicKey decodes and validates the key: RSA moduli of at least 2048 bits
// with a sane exponent, EC points on P-256/384/521 with full-length
// coordinates; alg and use, when present, must fit a signing key of this
// type; a certificate in x5c must hold the same key.
func (j JWK) PublicKey() (crypto.PublicKey, error) {
	var pub crypto.PublicKey
	switch j.Kty {
	case "RSA":
		n, err := b64decode("n", j.N)
		if err != nil {
			return nil, err
		}
		e, err := b64decode("e", j.E)
		if err != nil {
			return nil, err
		}
		if len(e) == 0 || len(e) > 4 {
			return nil, errors.New("jwk: RSA exponent out of range")
		}
		var exp uint64
		for _, b := range e {
			exp = exp<<8 | uint64(b)
		}
		if exp > 1<<31-1 {
			return nil, errors.New("jwk: RSA exponent out of range")
		}
		pub = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(exp)}
	case "EC":
		var curve elliptic.Curve
		switch j.Crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		case "P-521":
			curve = elliptic.P521()
		default:
			return nil, fmt.Errorf("jwk: unsupported curve %q", j.Crv)
		}
		size := (curve.Params().BitSize + 7) / 8
		x, err := b64decode("x", j.X)
		if err != nil {
			return nil, err
		}
		y, err := b64decode("y", j.Y)
		if err != nil {
			return nil, err
		}
		if len(x) != size || len(y) != size {
			return nil, fmt.Errorf("jwk: %s coordinates must be %d bytes", j.Crv, size)
		}
		point := append(append([]byte{4}, x...), y...)
		k, err := ecdsa.ParseUncompressedPublicKey(curve, point)
		if err != nil {
			return nil, fmt.Errorf("jwk: %w", err)
		}
		pub = k
	default:
		return nil, fmt.Errorf("jwk: unsupported kty %q", j.Kty)
	}
	if err := checkPublicKey(pub); err != nil {
		return nil, fmt.Errorf("jwk: %w", err)
	}
	if j.Use != "" && j.Use != "sig" {
		return nil, fmt.Errorf("jwk: use %q is not \"sig\"", j.Use)
	}
	if j.Alg != "" {
		if err := checkAlg(j.Alg, pub); err != nil {
			return nil, fmt.Errorf("jwk: %w", err)
		}
	}
	if len(j.X5c) > 0 {
		der, err := base64.StdEncoding.DecodeString(j.X5c[0])
		if err != nil {
			return nil, fmt.Errorf("jwk: x5c: %w", err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("jwk: x5c: %w", err)
		}
		if !keysEqual(cert.PublicKey, pub) {
			return nil, errors.New("jwk: x5c certificate holds a different key")
		}
	}
	return pub, nil
}

// MarshalJWKS renders {"keys":[...]} with the public JWK of every key, kid
// and alg as the tokens carry them, and x5c when the key has a chain
// (served at GET /.well-known/jwks.json).
func MarshalJWKS(keys []*Key) ([]byte, error) {
	set := struct {
		Keys []JWK `json:"keys"`
	}{Keys: []JWK{}}
	for _, k := range keys {
		j, err := NewJWK(k.Public(), k.ID, k.Alg)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", k.ID, err)
		}
		for _, c := range k.Chain {
			j.X5c = append(j.X5c, base64.StdEncoding.EncodeToString(c.Raw))
		}
		set.Keys = append(set.Keys, j)
	}
	return json.Marshal(set)
}

// ParseJWKS parses a JWKS document into kid -> public key. Keys without a
// kid are indexed under both computed forms (libtrust and thumbprint).
// Keys whose use is not "sig" are skipped. Private members ("d", ...),
// unknown kty, invalid keys and a kid given twice make the whole document
// an error: a half-understood trust set is worse than none.
func ParseJWKS(data []byte) (map[string]crypto.PublicKey, error) {
	if len(data) > maxJWKSSize {
		return nil, fmt.Errorf("jwks: larger than %d bytes", maxJWKSSize)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	if set.Keys == nil {
		return nil, errors.New(`jwks: no "keys" member`)
	}
	if len(set.Keys) > maxJWKSKeys {
		return nil, fmt.Errorf("jwks: more than %d keys", maxJWKSKeys)
	}
	out := make(map[string]crypto.PublicKey)
	for i, raw := range set.Keys {
		j, err := parseJWK(raw)
		if err != nil {
			return nil, fmt.Errorf("jwks: key %d: %w", i, err)
		}
		if j.Use != "" && j.Use != "sig" {
			continue
		}
		pub, err := j.PublicKey()
		if err != nil {
			return nil, fmt.Errorf("jwks: key %d: %w", i, err)
		}
		ids := []string{j.Kid}
		if j.Kid == "" {
			ids = computedIDs(pub)
		} else if _, dup := out[j.Kid]; dup {
			return nil, fmt.Errorf("jwks: key %d: kid %q given twice", i, j.Kid)
		}
		for _, id := range ids {
			out[id] = pub
		}
	}
	return out, nil
}

// parseJWK decodes one JWK object, refusing private key material.
func parseJWK(raw json.RawMessage) (JWK, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return JWK{}, err
	}
	for _, m := range privateMembers {
		if _, ok := members[m]; ok {
			return JWK{}, fmt.Errorf("private member %q in a public key set", m)
		}
	}
	var j JWK
	if err := json.Unmarshal(raw, &j); err != nil {
		return JWK{}, err
	}
	if len(j.X5c) > maxX5c {
		return JWK{}, fmt.Errorf("x5c longer than %d certificates", maxX5c)
	}
	return j, nil
}

// computedIDs returns both kid forms of pub; pub has been validated.
func computedIDs(pub crypto.PublicKey) []string {
	lt, _ := LibtrustKeyID(pub)
	tp, _ := Thumbprint(pub)
	return []string{lt, tp}
}

// checkAlg reports whether a token signed with alg may be verified with pub:
// RS*/PS* need RSA, ES256/384/512 need P-256/384/521 exactly.
func checkAlg(alg string, pub crypto.PublicKey) error {
	if _, err := algHash(alg); err != nil {
		return err
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS") {
			return nil
		}
		return fmt.Errorf("algorithm %s does not fit an RSA key", alg)
	case *ecdsa.PublicKey:
		want, err := algFor(k)
		if err != nil {
			return err
		}
		if alg == want {
			return nil
		}
		return fmt.Errorf("algorithm %s does not fit a %s key", alg, k.Curve.Params().Name)
	}
	return fmt.Errorf("unsupported key type %T", pub)
}

// keysEqual compares two public keys of any supported type.
func keysEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// b64decode decodes a base64url member strictly: no padding, no stray bits.
func b64decode(member, s string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("jwk: missing %q", member)
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("jwk: %q: %w", member, err)
	}
	return b, nil
}
