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
	"hash"
	"sync"
	"time"
)

// Cache is a bounded set of recently verified credentials. The zero value is
// not usable; call New. A Cache is safe for concurrent use. The caller runs
// bcrypt: Known before, Remember after a success.
type Cache struct {
	key  [32]byte
	ttl  time.Duration
	size int
	now  func() time.Time

	mu      sync.Mutex
	entries map[Key]time.Time // credential MAC -> expiry

	// macs are HMACs under key, reset between uses: setting one up costs
	// more than the MAC of a short triple, and every token request with
	// a password computes one.
	macs sync.Pool
}

// New returns a cache of at most size entries, each trusted for ttl.
// A size or ttl of zero or less disables caching: nothing is Known, though
// Keys still work.
func New(size int, ttl time.Duration) *Cache {
	c := &Cache{ttl: ttl, size: size, now: time.Now, entries: map[Key]time.Time{}}
	if _, err := rand.Read(c.key[:]); err != nil {
		panic("credcache: no randomness: " + err.Error())
	}
	c.macs.New = func() any { return &macState{h: hmac.New(sha256.New, c.key[:])} }
	return c
}

// Key identifies one (user, password, stored hash) triple: a MAC under
// the cache's own random key, so it can stand in for the password in maps
// (internal/loginguard keys its single flight by it) without revealing it.
type Key [32]byte

// Key returns the Key of a triple.
func (c *Cache) Key(user, password string, hash []byte) Key {
	return c.mac(user, password, hash)
}

// Known reports whether k was verified within the cache's ttl.
func (c *Cache) Known(k Key) bool {
	if c == nil || c.size <= 0 || c.ttl <= 0 {
		return false
	}
	c.mu.Lock()
	exp, ok := c.entries[k]
	c.mu.Unlock()
	return ok && c.now().Before(exp)
}

// Remember records that bcrypt just accepted k.
func (c *Cache) Remember(k Key) {
	if c == nil || c.size <= 0 || c.ttl <= 0 {
		return
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.size {
		c.evict(now)
	}
	c.entries[k] = now.Add(c.ttl)
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

// macState is a pooled HMAC and the buffer its message is built in.
type macState struct {
	h        hash.Hash
	msg, sum []byte
}

func (c *Cache) mac(user, password string, stored []byte) Key {
	m := c.macs.Get().(*macState)
	defer c.macs.Put(m)
	// Length-prefix each part so ("ab","c") and ("a","bc") differ. The
	// message is built in m's buffer and written at once: each Write of
	// a part would copy it to the heap.
	b := m.msg[:0]
	b = appendPart(b, user)
	b = appendPart(b, password)
	b = appendPart(b, stored)
	m.h.Reset()
	m.h.Write(b)
	clear(b) // the password stays in the pool no longer than needed
	if cap(b) <= 1<<10 {
		m.msg = b[:0]
	}
	m.sum = m.h.Sum(m.sum[:0]) // into m: a Key passed to Sum would escape
	var out Key
	copy(out[:], m.sum)
	return out
}

// appendPart appends the length of p (8 bytes, little-endian) and p.
func appendPart[T string | []byte](b []byte, p T) []byte {
	l := uint64(len(p))
	for i := range 8 {
		b = append(b, byte(l>>(8*i)))
	}
	return append(b, p...)
}
