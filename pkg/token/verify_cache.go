package token

import "sync"

// tokenCache remembers verified tokens by the SHA-256 of their raw form, so
// a client pushing hundreds of layers with one token pays for one signature
// check. It holds at most max entries and evicts the oldest insertion first;
// expiry, and for keys from the KeySource the key set's generation, are
// checked by the caller on every hit.
type tokenCache struct {
	mu      sync.Mutex
	max     int
	entries map[[32]byte]verified
	order   [][32]byte // ring of insertion order, len <= max
	next    int        // ring slot to overwrite once order is full
}

// verified is one cached verification.
type verified struct {
	claims *Claims
	// fromSource: the signing key came from the KeySource, so the result
	// holds only while the source's set is still generation gen.
	fromSource bool
	gen        uint64
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{max: max, entries: make(map[[32]byte]verified)}
}

// get returns the cached verification of id. Callers must not modify its
// claims.
func (c *tokenCache) get(id [32]byte) (verified, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	claims, ok := c.entries[id]
	return claims, ok
}

// put caches a verification (whose claims must have an exp) under id.
func (c *tokenCache) put(id [32]byte, e verified) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[id]; ok {
		c.entries[id] = e
		return
	}
	if len(c.order) < c.max {
		c.order = append(c.order, id)
	} else {
		delete(c.entries, c.order[c.next])
		c.order[c.next] = id
		c.next = (c.next + 1) % c.max
	}
	c.entries[id] = e
}
