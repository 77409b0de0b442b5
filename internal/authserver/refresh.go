package authserver

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/wharf-registry/wharf/pkg/token"
)

// Refresh tokens are opaque to clients and useless to a registry: not a
// JWT but
//
//	wrt1.<base64url(payload JSON)>.<base64url(HMAC-SHA256(key, "wrt1."+payload))>
//
// The payload names the user, the service, the issue and expiry times and a
// fingerprint (an HMAC) of the user's stored password hash, so a refresh
// token dies when it expires, when the password changes or when the user is
// removed, and there is no server-side state to share. The HMAC key is
// derived with HKDF from the signing private key: auth processes sharing a
// key honour each other's refresh tokens. Tokens are never rotated on use,
// because the Docker daemon keeps using the first one it got.
const refreshPrefix = "wrt1."

// maxRefreshLen bounds what is decoded at all.
const maxRefreshLen = 2048

// errBadRefresh is every reason a refresh token is refused; the reason is
// logged, never told.
var errBadRefresh = errors.New("invalid refresh token")

type refreshPayload struct {
	Sub string `json:"sub"`
	Aud string `json:"aud"`
	Iat int64  `json:"iat"`
	Exp int64  `json:"exp"`
	PWF string `json:"pwf"` // password fingerprint
}

// refresher mints with keys[0] and accepts any of keys, so a refresh token
// survives the signing key moving to token.extra_keys during a rotation.
type refresher struct {
	keys     []*macKey
	verified *verifiedRefreshes // refresh_cache.go
}

// macKey is a refresh token key and HMACs under it, reset between uses:
// setting one up costs more than the MAC of a refresh token, and every
// refresh grant computes two.
type macKey struct {
	pool sync.Pool
}

func newMACKey(key []byte) *macKey {
	k := &macKey{}
	k.pool.New = func() any { return hmac.New(sha256.New, key) }
	return k
}

// sum is the HMAC of parts under k.
func (k *macKey) sum(parts ...string) []byte {
	m := k.pool.Get().(hash.Hash)
	defer k.pool.Put(m)
	m.Reset()
	for _, p := range parts {
		io.WriteString(m, p)
	}
	return m.Sum(nil)
}

func newRefresher(keys []*token.Key) (*refresher, error) {
	r := &refresher{verified: newVerifiedRefreshes()}
	for _, k := range keys {
		der, err := x509.MarshalPKCS8PrivateKey(k.Signer)
		if err != nil {
			return nil, fmt.Errorf("derive refresh token key: %w", err)
		}
		mac, err := hkdf.Key(sha256.New, der, nil, "wharf auth refresh token v1", 32)
		if err != nil {
			return nil, fmt.Errorf("derive refresh token key: %w", err)
		}
		r.keys = append(r.keys, newMACKey(mac))
	}
	if len(r.keys) == 0 {
		return nil, errors.New("no key to derive refresh tokens from")
	}
	return r, nil
}

func (r *refresher) mint(user, service string, passwordHash []byte, now time.Time, lifetime time.Duration) (string, error) {
	p := refreshPayload{
		Sub: user,
		Aud: service,
		Iat: now.Unix(),
		Exp: now.Add(lifetime).Unix(),
		PWF: fingerprint(r.keys[0], passwordHash),
	}
	data, err := json.Marshal(p)
	if err != nil {
		return "", err
	}
	body := refreshPrefix + base64.RawURLEncoding.EncodeToString(data)
	return body + "." + base64.RawURLEncoding.EncodeToString(sum(r.keys[0], body)), nil
}

// verify checks the format, the MAC and the expiry, and returns what the
// token decoded to, with the key that authenticated it (for fingerprint
// checks). A token that verified before is found by its digest instead of
// being decoded again (refresh_cache.go); its expiry is checked anew.
func (r *refresher) verify(raw string, now time.Time) (*verifiedRefresh, error) {
	if len(raw) > maxRefreshLen || !strings.HasPrefix(raw, refreshPrefix) {
		return nil, fmt.Errorf("%w: not a refresh token of ours", errBadRefresh)
	}
	d := sha256.Sum256([]byte(raw))
	if e, ok := r.verified.get(d, now); ok {
		return e, nil
	}
	p, key, err := r.decode(raw, now)
	if err != nil {
		return nil, err
	}
	e := &verifiedRefresh{p: p, key: key}
	r.verified.put(d, e, now)
	return e, nil
}

// decode verifies raw in full: its MAC under one of the keys, its
// payload, its expiry.
func (r *refresher) decode(raw string, now time.Time) (refreshPayload, *macKey, error) {
	var p refreshPayload
	dot := strings.LastIndexByte(raw, '.')
	body, sig64 := raw[:dot], raw[dot+1:]
	sig, err := base64.RawURLEncoding.DecodeString(sig64)
	if err != nil {
		return p, nil, fmt.Errorf("%w: bad signature encoding", errBadRefresh)
	}
	var key *macKey
	for _, k := range r.keys {
		if hmac.Equal(sig, sum(k, body)) {
			key = k
			break
		}
	}
	if key == nil {
		return p, nil, fmt.Errorf("%w: signature does not verify", errBadRefresh)
	}
	data, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(body, refreshPrefix))
	if err != nil || json.Unmarshal(data, &p) != nil {
		return p, nil, fmt.Errorf("%w: bad payload", errBadRefresh)
	}
	if expired(p, now) {
		return p, nil, fmt.Errorf("%w: expired", errBadRefresh)
	}
	return p, key, nil
}

// matches reports, in constant time, whether p was minted for the
// password hash the user has now.
func (p refreshPayload) matches(key *macKey, passwordHash []byte) bool {
	return hmac.Equal([]byte(p.PWF), []byte(fingerprint(key, passwordHash)))
}

func fingerprint(key *macKey, passwordHash []byte) string {
	return base64.RawURLEncoding.EncodeToString(key.sum("password fingerprint\x00", string(passwordHash))[:16])
}

func sum(key *macKey, body string) []byte { return key.sum(body) }
