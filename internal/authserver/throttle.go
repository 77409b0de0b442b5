package authserver

import (
	"sync"
	"time"
)

// throttle limits failed logins per key (a client IP or an account). Each
// key has a bucket of maxFailures tokens, refilled at maxFailures per
// window. A login attempt takes a token from each of its keys before the
// password is checked and gives them back if the password was right, so:
//   - a failed login spends a token; a key with none left is refused (429)
//     before bcrypt runs, and brute force costs the attacker time, not the
//     server CPU;
//   - taking the token up front means concurrent guesses queued for bcrypt
//     cannot all slip past the limit: exactly maxFailures get through.
//
// Memory is bounded: at most maxTracked keys are remembered. When full,
// keys whose bucket has refilled (nothing to remember) go first, then an
// arbitrary half; forgetting a key only forgives its failures.
type throttle struct {
	perSecond  float64
	burst      float64
	maxTracked int
	settings   [3]int64 // what it was built from, to keep it across reloads

	mu   sync.Mutex
	keys map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// newThrottle returns nil (no throttling) when maxFailures is 0.
func newThrottle(maxFailures int, window time.Duration, maxTracked int) *throttle {
	if maxFailures <= 0 {
		return nil
	}
	return &throttle{
		perSecond:  float64(maxFailures) / window.Seconds(),
		burst:      float64(maxFailures),
		maxTracked: maxTracked,
		settings:   [3]int64{int64(maxFailures), int64(window), int64(maxTracked)},
		keys:       map[string]*bucket{},
	}
}

// attempt is a login in progress holding one token of each of its keys.
type attempt struct {
	t    *throttle
	keys []string
}

// begin takes a token from every key's bucket. When some key has none
// left it takes nothing and returns how long until one is back.
func (t *throttle) begin(now time.Time, keys ...string) (*attempt, time.Duration) {
	if t == nil {
		return nil, 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var wait time.Duration
	for _, k := range keys {
		if b := t.keys[k]; b != nil && t.refill(b, now) < 1 {
			d := time.Duration((1 - b.tokens) / t.perSecond * float64(time.Second))
			wait = max(wait, d, time.Nanosecond)
		}
	}
	if wait > 0 {
		return nil, wait
	}
	for _, k := range keys {
		b := t.keys[k]
		if b == nil {
			if len(t.keys) >= t.maxTracked {
				t.evict(now)
			}
			b = &bucket{tokens: t.burst, last: now}
			t.keys[k] = b
		}
		b.tokens--
	}
	return &attempt{t: t, keys: keys}, 0
}

// release gives the tokens back: the login succeeded, or never ran.
func (a *attempt) release() {
	if a == nil {
		return
	}
	t := a.t
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range a.keys {
		if b := t.keys[k]; b != nil { // nil if evicted meanwhile
			b.tokens = min(b.tokens+1, t.burst)
		}
	}
	a.keys = nil
}

// refill brings b up to date and returns its tokens.
func (t *throttle) refill(b *bucket, now time.Time) float64 {
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = min(b.tokens+elapsed.Seconds()*t.perSecond, t.burst)
		b.last = now
	}
	return b.tokens
}

func (t *throttle) evict(now time.Time) {
	for k, b := range t.keys {
		if t.refill(b, now) >= t.burst {
			delete(t.keys, k)
		}
	}
	for k := range t.keys {
		if len(t.keys) < t.maxTracked/2+1 {
			break
		}
		delete(t.keys, k)
	}
}

// tracked returns how many keys are remembered.
func (t *throttle) tracked() int {
	if t == nil {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.keys)
}
