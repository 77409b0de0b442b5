// Package credcache remembers successful password checks briefly, so a fleet
// of CI jobs pulling with one set of credentials is not bound by bcrypt.
//
// Only successes are remembered, only in memory, keyed by an HMAC of the
// user, the password and the stored hash under a key made fresh for each
// process: nothing in the cache can be turned back into a password, a changed
// password or hash misses at once, and a wrong password always pays the full
// bcrypt cost.
package credcache

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"time"
)

// Cache is a bounded set of recently verified credentials. The zero value is
// not usable; call New. A Cache is safe for concurrent use.
type Cache struct {
	key  [32]byte
	ttl  time.Duration
	size int
	now  func() time.Time

	mu      sync.Mutex
	entries map[[32]byte]time.Time // credential MAC -> expiry
}

// New returns a cache of at most size entries, each trusted for ttl.
// A size or ttl of zero or less disables caching: every check is verified.
func New(size int, ttl time.Duration) *Cache {
	c := &Cache{ttl: ttl, size: size, now: time.Now, entries: map[[32]byte]time.Time{}}
	if _, err := rand.Read(c.key[:]); err != nil {
		panic("credcache: no randomness: " + err.Error())
	}
	return c
}

// Check reports whether password is right for user with the stored hash,
// calling verify (the slow bcrypt comparison) unless the same triple was
// verified within the cache's ttl.
func (c *Cache) Check(user, password string, hash []byte, verify func() bool) bool {
	if c == nil || c.size <= 0 || c.ttl <= 0 {
		return verify()
	}
	k := c.mac(user, password, hash)
	now := c.now()
	c.mu.Lock()
	exp, ok := c.entries[k]
	c.mu.Unlock()
	if ok && now.Before(exp) {
		return true
	}
	if !verify() {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.size {
		c.evict(now)
	}
	c.entries[k] = now.Add(c.ttl)
	return true
}

// Purge forgets everything, e.g. after the user list was reloaded.
func (c *Cache) Purge() {
	if c == nil {
		return
	}
	c.mu.Lock()
	clear(c.entries)
	c.mu.Unlock()
}

// evict drops expired entries, and if the cache is still full, an arbitrary
// half of it: cheap, and a dropped entry only costs one more bcrypt.
func (c *Cache) evict(now time.Time) {
	for k, exp := range c.entries {
		if !now.Before(exp) {
			delete(c.entries, k)
		}
	}
	for k := range c.entries {
		if len(c.entries) < c.size/2+1 {
			break
		}
		delete(c.entries, k)
	}
}

func (c *Cache) mac(user, password string, hash []byte) [32]byte {
	m := hmac.New(sha256.New, c.key[:])
	// Length-prefix each part so ("ab","c") and ("a","bc") differ.
	for _, part := range [][]byte{[]byte(user), []byte(password), hash} {
		var n [8]byte
		l := uint64(len(part))
		for i := range n {
			n[i] = byte(l >> (8 * i))
		}
		m.Write(n[:])
		m.Write(part)
	}
	var out [32]byte
	copy(out[:], m.Sum(nil))
	return out
}
