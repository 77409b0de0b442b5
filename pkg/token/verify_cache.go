package token

import "sync"

// tokenCache remembers verified tokens by the SHA-256 of their raw form, so
// a client pushing hundreds of layers with one token pays for one signature
// check. It holds at most max entries and evicts the oldest insertion first;
// expiry is checked by the caller on every hit.
type tokenCache struct {
	mu      sync.Mutex
	max     int
	entries map[[32]byte]*Claims
	order   [][32]byte // ring of insertion order, len <= max
	next    int        // ring slot to overwrite once order is full
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{max: max, entries: make(map[[32]byte]*Claims)}
}

// get returns the cached claims for id. Callers must not modify them.
func (c *tokenCache) get(id [32]byte) (*Claims, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	claims, ok := c.entries[id]
	return claims, ok
}

// put caches claims (which must have an exp) under id.
func (c *tokenCache) put(id [32]byte, claims *Claims) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[id]; ok {
		c.entries[id] = claims
		return
	}
	if len(c.order) < c.max {
		c.order = append(c.order, id)
	} else {
		delete(c.entries, c.order[c.next])
		c.order[c.next] = id
		c.next = (c.next + 1) % c.max
	}
	c.entries[id] = claims
}
