package authserver

import (
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"time"
)

// The Docker daemon and containerd send the same refresh token with every
// token request after a login, for weeks. Verifying it (base64, its HMAC,
// decoding its JSON, the HMAC of the user's password hash) cost more than
// the rest of a refresh grant together, and the outcome of that work is a
// function of the token's bytes and of the snapshot's keys and users
// alone. So a refresh token that verified is remembered, with what it
// decoded to, in the snapshot's refresher: a reload (new keys, a changed
// password, a removed user) starts with none remembered.
//
// What is not remembered is checked on every use as before: the expiry
// (against the current clock), the service asked for, the user still being
// in the snapshot. Only successes are kept; a token that fails is verified
// in full every time it is sent, so garbage cannot fill the cache.
//
// Entries are found by the SHA-256 of the token, never by the token
// itself: a map lookup compares keys with an early exit, and comparing the
// digest of a guess with the digest of a real token tells nothing about
// the real token's bytes.

// verifiedRefreshSize bounds the remembered refresh tokens. A refresh
// token is minted only after a password login, so there are rarely many.
const verifiedRefreshSize = 10000

// verifiedRefresh is what a refresh token decoded to.
type verifiedRefresh struct {
	p   refreshPayload
	key *macKey // the key its MAC verified under
	// owner is the user whose stored password hash its fingerprint was
	// found to match, nil until checked. Users never change within a
	// snapshot, so the match holds for as long as the entry lives.
	owner atomic.Pointer[user]
}

// verifiedRefreshes remembers refresh tokens that verified.
type verifiedRefreshes struct {
	mu      sync.Mutex
	entries map[[sha256.Size]byte]*verifiedRefresh
}

func newVerifiedRefreshes() *verifiedRefreshes {
	return &verifiedRefreshes{entries: map[[sha256.Size]byte]*verifiedRefresh{}}
}

// get returns the entry for the token with digest d, if remembered and not
// expired at now. An expired entry is forgotten.
func (c *verifiedRefreshes) get(d [sha256.Size]byte, now time.Time) (*verifiedRefresh, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[d]
	if !ok {
		return nil, false
	}
	if expired(e.p, now) {
		delete(c.entries, d)
		return nil, false
	}
	return e, true
}

// put remembers e for the token with digest d. When full, expired entries
// go first, then an arbitrary half.
func (c *verifiedRefreshes) put(d [sha256.Size]byte, e *verifiedRefresh, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= verifiedRefreshSize {
		for k, old := range c.entries {
			if expired(old.p, now) {
				delete(c.entries, k)
			}
		}
		for k := range c.entries {
			if len(c.entries) < verifiedRefreshSize/2 {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[d] = e
}

// expired reports whether a refresh token with payload p is dead at now.
func expired(p refreshPayload, now time.Time) bool { return now.Unix() >= p.Exp }
