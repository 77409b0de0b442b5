package token

// How Verify chooses the key that must have signed a token. The first header
// member present decides; a failing rule never falls through to a later one
// (distribution's registry/auth/token rules, which clients and UIs assume):
//
//	header.x5c present? --yes--> parse the chain; the leaf must verify against
//	     |                       Roots (intermediates = rest of x5c, any EKU);
//	     no                      key = leaf's public key
//	     v
//	header.jwk present? --yes--> key = the embedded JWK, but only if it equals a
//	     |                       trusted key (found by header.kid or by its
//	     no                      computed libtrust / thumbprint kid)
//	     v
//	header.kid present? --yes--> key = trusted[kid], else KeySource.Key(kid)
//	     |
//	     no --> reject. jku and x5u are never fetched.
//
// Trusted keys are Keys and the public keys of Roots, each indexed under its
// given kid (if any) and both computed forms, so tokens from registry:2-style
// (libtrust kid) and registry:3-style (thumbprint kid) issuers both verify.
// Then the header's alg is pinned to the key: RS*/PS* need RSA (>= 2048
// bits), ES256/384/512 need exactly P-256/384/521; none and HMAC never pass.

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrInvalidToken is wrapped by every verification failure. The registry
// answers it with 401 and error="invalid_token".
var ErrInvalidToken = errors.New("invalid token")

// MaxTokenSize bounds a token; larger ones are rejected before any decoding.
const MaxTokenSize = 64 << 10

// Defaults for VerifierOptions.
const (
	DefaultLeeway    = 60 * time.Second
	DefaultCacheSize = 4096
)

// verifiableAlgs are the JWS algorithms a token may be signed with.
var verifiableAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}

// VerifierOptions configure a Verifier (the registry's auth.token section).
type VerifierOptions struct {
	// Issuer is the required "iss".
	Issuer string
	// Service must be one of the token's audiences ("aud", string or list).
	Service string
	// Roots is the rootcertbundle: x5c chains must verify to these. Their
	// public keys are trusted keys too, indexed by both kid forms.
	Roots []*x509.Certificate
	// Keys are extra trusted keys by kid (e.g. from a JWKS), also indexed
	// under both computed kid forms.
	Keys map[string]crypto.PublicKey
	// KeySource resolves kids not in Keys (a JWKS file or URL); optional.
	KeySource KeySource
	// Leeway tolerates clock skew on exp, nbf and iat; 0 means DefaultLeeway.
	Leeway time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// CacheSize bounds the verified-token cache; 0 means DefaultCacheSize,
	// a negative value disables the cache.
	CacheSize int
}

// KeySource resolves a kid to a trusted public key, possibly fetching it
// (rate-limited) from elsewhere.
type KeySource interface {
	Key(ctx context.Context, kid string) (crypto.PublicKey, bool)
}

// Verifier checks registry bearer tokens. It is safe for concurrent use.
type Verifier struct {
	issuer  string
	service string
	roots   *x509.CertPool // nil when no Roots: x5c is then always rejected
	trusted map[string]crypto.PublicKey
	source  KeySource
	leeway  time.Duration
	now     func() time.Time
	cache   *tokenCache // nil when disabled

	uncachable atomic.Uint64 // generations for a source without its own
}

// NewVerifier validates opts and builds a Verifier.
func NewVerifier(opts VerifierOptions) (*Verifier, error) {
	if opts.Issuer == "" {
		return nil, errors.New("token verifier: issuer is required")
	}
	if opts.Service == "" {
		return nil, errors.New("token verifier: service is required")
	}
	if len(opts.Roots) == 0 && len(opts.Keys) == 0 && opts.KeySource == nil {
		return nil, errors.New("token verifier: no root certificates, keys or key source to trust")
	}
	if opts.Leeway < 0 {
		return nil, errors.New("token verifier: negative leeway")
	}
	v := &Verifier{
		issuer:  opts.Issuer,
		service: opts.Service,
		trusted: make(map[string]crypto.PublicKey),
		source:  opts.KeySource,
		leeway:  opts.Leeway,
		now:     opts.Now,
	}
	if v.leeway == 0 {
		v.leeway = DefaultLeeway
	}
	if v.now == nil {
		v.now = time.Now
	}
	switch {
	case opts.CacheSize == 0:
		v.cache = newTokenCache(DefaultCacheSize)
	case opts.CacheSize > 0:
		v.cache = newTokenCache(opts.CacheSize)
	}
	if len(opts.Roots) > 0 {
		v.roots = x509.NewCertPool()
	}
	for _, c := range opts.Roots {
		v.roots.AddCert(c)
		if checkPublicKey(c.PublicKey) != nil {
			continue // a CA with, say, an Ed25519 key still anchors x5c chains
		}
		for _, id := range computedIDs(c.PublicKey) {
			if err := v.trust(id, c.PublicKey); err != nil {
				return nil, err
			}
		}
	}
	for kid, pub := range opts.Keys {
		if err := checkPublicKey(pub); err != nil {
			return nil, fmt.Errorf("token verifier: key %q: %w", kid, err)
		}
		ids := computedIDs(pub)
		if kid != "" {
			ids = append(ids, kid)
		}
		for _, id := range ids {
			if err := v.trust(id, pub); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

// trust indexes pub under kid, refusing two different keys for one kid.
func (v *Verifier) trust(kid string, pub crypto.PublicKey) error {
	if old, ok := v.trusted[kid]; ok && !keysEqual(old, pub) {
		return fmt.Errorf("token verifier: kid %q names two different keys", kid)
	}
	v.trusted[kid] = pub
	return nil
}

// tokenHeader is the JOSE header members Verify looks at.
type tokenHeader struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	X5c  []string        `json:"x5c"`
	JWK  json.RawMessage `json:"jwk"`
	Crit json.RawMessage `json:"crit"`
}

// Verify checks a compact JWS and returns its claims. Every failure wraps
// ErrInvalidToken.
//
// Order: size <= MaxTokenSize and exactly three dot-separated parts before
// any decoding; header alg among RS/PS/ES 256/384/512; the signing key by
// the rules atop this file, its type pinned to alg; the signature; then
// iss == Issuer, aud contains Service (missing or [] is rejected), exp
// required, exp/nbf/iat within Leeway. Successful results are cached (keyed
// by the SHA-256 of the raw token) until exp; a cache hit re-checks exp.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Claims, error) {
	if len(raw) > MaxTokenSize {
		return nil, invalidf("larger than %d bytes", MaxTokenSize)
	}
	if strings.Count(raw, ".") != 2 {
		return nil, invalidf("not a compact JWS (want three dot-separated parts)")
	}
	now := v.now()
	id := sha256.Sum256([]byte(raw))
	// Read before verifying: a set changing meanwhile makes the entry stale.
	gen := v.sourceGeneration()
	if v.cache != nil {
		// A hit whose key came from a key set that has changed since is
		// verified again: the key may have been withdrawn.
		if e, ok := v.cache.get(id); ok && (!e.fromSource || e.gen == gen) {
			if now.After(e.claims.ExpiresAt.Add(v.leeway)) {
				return nil, invalidf("token expired at %s", e.claims.ExpiresAt.UTC().Format(time.RFC3339))
			}
			return e.claims.clone(), nil
		}
	}
	c, fromSource, err := v.verify(ctx, raw, now)
	if err != nil {
		return nil, err
	}
	if v.cache != nil {
		v.cache.put(id, verified{claims: c.clone(), fromSource: fromSource, gen: gen})
	}
	return c, nil
}

// generationer is a KeySource that tells when its keys change, so cached
// verifications by its keys end with the keys (JWKSSource is one). Results
// by keys of a source without it are never cached.
type generationer interface {
	Generation() uint64
}

// sourceGeneration returns the key source's generation; for a source that
// has none, a fresh value each call, so nothing by its keys is reused.
func (v *Verifier) sourceGeneration() uint64 {
	if g, ok := v.source.(generationer); ok {
		return g.Generation()
	}
	return v.uncachable.Add(1)
}

// verify does the uncached work of Verify. fromSource reports that the
// signing key came from the KeySource.
func (v *Verifier) verify(ctx context.Context, raw string, now time.Time) (*Claims, bool, error) {
	parts := strings.SplitN(raw, ".", 3)
	headerJSON, err := base64.RawURLEncoding.Strict().DecodeString(parts[0])
	if err != nil {
		return nil, false, invalidf("header: %v", err)
	}
	var h tokenHeader
	if err := json.Unmarshal(headerJSON, &h); err != nil {
		return nil, false, invalidf("header: %v", err)
	}
	if h.Alg == "" {
		return nil, false, invalidf("header has no alg")
	}
	if !slices.Contains(verifiableAlgs, h.Alg) {
		return nil, false, invalidf("algorithm %q is not accepted", h.Alg)
	}
	if h.Crit != nil {
		// RFC 7515 section 4.1.11: extensions we do not understand must fail.
		return nil, false, invalidf("header has crit extensions")
	}
	pub, fromSource, err := v.signingKey(ctx, &h, now)
	if err != nil {
		return nil, false, err
	}
	if err := checkAlg(h.Alg, pub); err != nil {
		return nil, false, invalidf("%v", err)
	}
	sig, err := base64.RawURLEncoding.Strict().DecodeString(parts[2])
	if err != nil {
		return nil, false, invalidf("signature: %v", err)
	}
	signingInput := raw[:len(parts[0])+1+len(parts[1])]
	if err := jwt.GetSigningMethod(h.Alg).Verify(signingInput, sig, pub); err != nil {
		return nil, false, invalidf("signature: %v", err)
	}

	payload, err := base64.RawURLEncoding.Strict().DecodeString(parts[1])
	if err != nil {
		return nil, false, invalidf("payload: %v", err)
	}
	var c Claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, false, invalidf("payload: %v", err)
	}
	if err := v.checkClaims(&c, now); err != nil {
		return nil, false, err
	}
	return &c, fromSource, nil
}

// checkClaims applies the issuer, audience and time rules.
func (v *Verifier) checkClaims(c *Claims, now time.Time) error {
	if c.Issuer != v.issuer {
		return invalidf("issuer %q is not %q", c.Issuer, v.issuer)
	}
	if !slices.Contains(c.Audience, v.service) {
		return invalidf("audience %q does not contain %q", []string(c.Audience), v.service)
	}
	if c.ExpiresAt == nil {
		return invalidf("no exp")
	}
	if now.After(c.ExpiresAt.Add(v.leeway)) {
		return invalidf("token expired at %s", c.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if c.NotBefore != nil && now.Add(v.leeway).Before(c.NotBefore.Time) {
		return invalidf("token not valid before %s", c.NotBefore.UTC().Format(time.RFC3339))
	}
	if c.IssuedAt != nil && now.Add(v.leeway).Before(c.IssuedAt.Time) {
		return invalidf("token issued in the future (%s)", c.IssuedAt.UTC().Format(time.RFC3339))
	}
	return nil
}

// signingKey applies the key selection rules atop this file. fromSource
// reports that the key came from the KeySource.
func (v *Verifier) signingKey(ctx context.Context, h *tokenHeader, now time.Time) (pub crypto.PublicKey, fromSource bool, err error) {
	switch {
	case len(h.X5c) > 0:
		pub, err = v.chainKey(h.X5c, now)
		return pub, false, err
	case h.JWK != nil:
		return v.embeddedKey(ctx, h)
	case h.Kid != "":
		if pub, fromSource, ok := v.lookup(ctx, h.Kid); ok {
			return pub, fromSource, nil
		}
		return nil, false, invalidf("unknown signing key %q", h.Kid)
	}
	return nil, false, invalidf("header names no trusted signing key (x5c, jwk or kid)")
}

// chainKey verifies an x5c chain against the roots and returns the leaf key.
func (v *Verifier) chainKey(x5c []string, now time.Time) (crypto.PublicKey, error) {
	if v.roots == nil {
		// Without this, x509 would fall back to the system roots.
		return nil, invalidf("x5c given but no root certificates are configured")
	}
	if len(x5c) > maxX5c {
		return nil, invalidf("x5c longer than %d certificates", maxX5c)
	}
	certs := make([]*x509.Certificate, len(x5c))
	for i, s := range x5c {
		der, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, invalidf("x5c[%d]: %v", i, err)
		}
		if certs[i], err = x509.ParseCertificate(der); err != nil {
			return nil, invalidf("x5c[%d]: %v", i, err)
		}
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{
		Roots:         v.roots,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return nil, invalidf("x5c: %v", err)
	}
	if err := checkPublicKey(certs[0].PublicKey); err != nil {
		return nil, invalidf("x5c: %v", err)
	}
	return certs[0].PublicKey, nil
}

// embeddedKey accepts a header jwk only if it equals a trusted key.
func (v *Verifier) embeddedKey(ctx context.Context, h *tokenHeader) (crypto.PublicKey, bool, error) {
	j, err := parseJWK(h.JWK)
	if err != nil {
		return nil, false, invalidf("jwk: %v", err)
	}
	j.X5c = nil // never trusted here; only the key matters
	pub, err := j.PublicKey()
	if err != nil {
		return nil, false, invalidf("%v", err)
	}
	ids := computedIDs(pub)
	if h.Kid != "" {
		ids = append(ids, h.Kid)
	}
	for _, id := range ids {
		if t, fromSource, ok := v.lookup(ctx, id); ok && keysEqual(t, pub) {
			return t, fromSource, nil
		}
	}
	return nil, false, invalidf("embedded jwk is not a trusted key")
}

// lookup finds a trusted key by kid: the static set first, then the source.
func (v *Verifier) lookup(ctx context.Context, kid string) (pub crypto.PublicKey, fromSource, ok bool) {
	if pub, ok := v.trusted[kid]; ok {
		return pub, false, true
	}
	if v.source != nil {
		if pub, ok := v.source.Key(ctx, kid); ok && checkPublicKey(pub) == nil {
			return pub, true, true
		}
	}
	return nil, false, false
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidToken}, args...)...)
}
