package loginguard

import (
	"sync"
	"time"
)

// Defaults of the token server's throttle section, and the registry's
// limits in htpasswd mode (its config has no such section).
const (
	DefaultMaxFailures = 10
	DefaultWindow      = time.Minute
	DefaultMaxTracked  = 10000
)

// maxSlowDown caps the delay of a failed login for an account under attack.
const maxSlowDown = time.Second

// Throttle limits failed logins. It counts them in token buckets of
// maxFailures tokens, refilled at maxFailures per window, one bucket per key:
//
//   - per client address: an address whose failures emptied its bucket is
//     refused (429) before bcrypt runs, whatever account it names. Only
//     failures spend tokens; an attempt whose check is still running holds
//     one (pending), so that guesses sent at once cannot all slip past the
//     limit, and an attempt that would need more tokens than are left
//     waits for the running ones to finish instead of being refused: if
//     they succeed, their tokens come back.
//   - per account: failures from every address together. An account whose
//     bucket is empty is never refused (or anyone could lock a known user
//     out); its further failures are answered late instead (slowDown).
//
// A per (account, address) key would add nothing: it could never empty
// before the address's own bucket does.
//
// Memory is bounded: at most maxTracked keys are remembered. When full,
// idle keys whose bucket has refilled go first, then an arbitrary half of
// the idle ones; forgetting a key only forgives its failures.
type Throttle struct {
	perSecond  float64
	burst      float64
	slowDown   time.Duration
	maxTracked int
	limits     [3]int64 // what it was built from, to keep it across reloads

	mu      sync.Mutex
	keys    map[string]*bucket
	changed chan struct{} // closed and replaced whenever a pending attempt ends
}

type bucket struct {
	tokens  float64
	pending int
	last    time.Time
}

// NewThrottle returns nil (no throttling) when maxFailures is 0.
func NewThrottle(maxFailures int, window time.Duration, maxTracked int) *Throttle {
	if maxFailures <= 0 {
		return nil
	}
	return &Throttle{
		perSecond:  float64(maxFailures) / window.Seconds(),
		burst:      float64(maxFailures),
		slowDown:   min(window/time.Duration(maxFailures), maxSlowDown),
		maxTracked: maxTracked,
		limits:     [3]int64{int64(maxFailures), int64(window), int64(maxTracked)},
		keys:       map[string]*bucket{},
		changed:    make(chan struct{}),
	}
}

// SameLimits reports whether t and o were built from the same settings, so
// that a reload can keep t and not forgive an attacker's failures.
func (t *Throttle) SameLimits(o *Throttle) bool {
	return t != nil && o != nil && t.limits == o.limits
}

// Tracked returns how many keys are remembered.
func (t *Throttle) Tracked() int {
	if t == nil {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.keys)
}

// A Throttle outlives the Guards of config reloads that keep its limits,
// so its methods lock it themselves.

// refused returns how long until addr may try again, 0 if it may now.
func (t *Throttle) refused(addr string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.keys[addr]
	if b == nil || t.refill(b, now) >= 1 {
		return 0
	}
	return max(time.Duration((1-b.tokens)/t.perSecond*float64(time.Second)), time.Nanosecond)
}

// reserve holds one of addr's tokens for an attempt about to run bcrypt.
// When every token left is held by running attempts it returns a channel
// closed when one of them ends, to try again then.
func (t *Throttle) reserve(addr string, now time.Time) (ok bool, changed <-chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.bucket(addr, now)
	if t.refill(b, now)-float64(b.pending) < 1 {
		return false, t.changed
	}
	b.pending++
	return true, nil
}

// end finishes a reserved attempt, spending its token if it failed.
func (t *Throttle) end(addr string, failed bool, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if b := t.keys[addr]; b != nil { // nil if evicted meanwhile
		b.pending--
		if failed {
			t.spend(b, now)
		}
	}
	close(t.changed)
	t.changed = make(chan struct{})
}

// fail records a failure that held no reservation (it shared another
// attempt's check) against addr.
func (t *Throttle) fail(addr string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.spend(t.bucket(addr, now), now)
}

// failAccount records a failure against account and returns how long to
// hold the answer back: slowDown once the account's bucket is empty.
func (t *Throttle) failAccount(account string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.bucket(account, now)
	empty := t.refill(b, now) < 1
	t.spend(b, now)
	if empty {
		return t.slowDown
	}
	return 0
}

// The methods below are called with t.mu held.

func (t *Throttle) spend(b *bucket, now time.Time) {
	t.refill(b, now)
	b.tokens = max(b.tokens-1, 0)
}

func (t *Throttle) bucket(key string, now time.Time) *bucket {
	b := t.keys[key]
	if b == nil {
		if len(t.keys) >= t.maxTracked {
			t.evict(now)
		}
		b = &bucket{tokens: t.burst, last: now}
		t.keys[key] = b
	}
	return b
}

// refill brings b up to date and returns its tokens.
func (t *Throttle) refill(b *bucket, now time.Time) float64 {
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = min(b.tokens+elapsed.Seconds()*t.perSecond, t.burst)
		b.last = now
	}
	return b.tokens
}

func (t *Throttle) evict(now time.Time) {
	for k, b := range t.keys {
		if b.pending == 0 && t.refill(b, now) >= t.burst {
			delete(t.keys, k)
		}
	}
	for k, b := range t.keys {
		if len(t.keys) < t.maxTracked/2+1 {
			break
		}
		if b.pending == 0 {
			delete(t.keys, k)
		}
	}
}
