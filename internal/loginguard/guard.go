// Package loginguard checks passwords for both programs (the token
// server's users, the registry's htpasswd file) so that brute force costs
// the attacker and never the users:
//
//   - credentials bcrypt accepted within the cache's ttl pass at once
//     (internal/credcache), throttle or not;
//   - concurrent checks of the same credentials share one bcrypt (a single
//     flight keyed by the cache's MAC, never by the password);
//   - at most Slots comparisons run at once, and a client that goes away
//     while queued gives its place up;
//   - failed logins, not attempts, are counted (Throttle): an address with
//     too many is refused, an account with too many is slowed down;
//   - every failure costs the bcrypt work of the costliest hash in use
//     (internal/decoy), so timing tells no names apart.
package loginguard

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/wharf-registry/wharf/internal/credcache"
	"github.com/wharf-registry/wharf/internal/decoy"
)

// Guard checks logins. It is safe for concurrent use.
type Guard struct {
	slots    *Slots
	cache    *credcache.Cache
	throttle *Throttle
	now      func() time.Time
	sleep    func(context.Context, time.Duration) error

	mu      sync.Mutex
	flights map[credcache.Key]*flight
}

// Options configure a Guard.
type Options struct {
	// Slots bounds concurrent bcrypt comparisons; guards may share one.
	Slots *Slots
	// Cache remembers successes; required (New(0, 0) remembers nothing).
	Cache *credcache.Cache
	// Throttle counts failures; nil disables throttling.
	Throttle *Throttle
	// Now and Sleep default to the wall clock; tests replace them.
	Now   func() time.Time
	Sleep func(context.Context, time.Duration) error
}

// New returns a guard.
func New(o Options) *Guard {
	g := &Guard{slots: o.Slots, cache: o.Cache, throttle: o.Throttle, now: o.Now, sleep: o.Sleep,
		flights: map[credcache.Key]*flight{}}
	if g.now == nil {
		g.now = time.Now
	}
	if g.sleep == nil {
		g.sleep = Sleep
	}
	return g
}

// Attempt is one login.
type Attempt struct {
	User, Password string
	// Hash is the user's stored bcrypt hash, nil for an unknown user.
	Hash []byte
	// Addr is the client's address; the invalid Addr (a trusted proxy that
	// named none) counts as one address of its own, and an IPv6 address
	// as its /64.
	Addr netip.Addr
	// Decoys are those of the user set Hash comes from.
	Decoys *decoy.Set
	// Verify, when set, decides instead of bcrypt: a backend such as an
	// LDAP bind or an external program (the token server's ldap_auth,
	// ext_auth). Hash must then be set; it only keys the cache and the
	// single flight. Verify's error (the backend could not decide) is
	// returned as is and counts as no failure. A failure is topped up to
	// the work of Decoys' costliest hash when Decoys is set, so that it
	// costs at least what a failed bcrypt check does.
	Verify func(ctx context.Context) (bool, error)
}

// Throttled is the error of a login refused before its password was
// checked, because its client address failed too often.
type Throttled struct {
	RetryAfter time.Duration
}

// RetryAfterSeconds is RetryAfter in whole seconds, rounded up and at
// least 1: the Retry-After header's value.
func (e *Throttled) RetryAfterSeconds() int {
	return max(int((e.RetryAfter+time.Second-1)/time.Second), 1)
}

func (e *Throttled) Error() string {
	return fmt.Sprintf("too many failed logins from this address; retry in %v", e.RetryAfter.Round(time.Second))
}

// Check reports whether a's password is right. A wrong password and an
// unknown user are (false, nil), after the bcrypt work of the costliest
// hash in use; a refused address is a *Throttled error; a client gone
// away is ctx's error; a Verify that could not decide is its error.
func (g *Guard) Check(ctx context.Context, a Attempt) (bool, error) {
	hash := a.Hash
	if hash == nil {
		hash = a.Decoys.Max()
	}
	key := g.cache.Key(a.User, a.Password, hash)
	if a.Hash != nil && g.cache.Known(key) {
		return true, nil
	}
	addr := addrKey(a.Addr)
	f, leader, err := g.join(ctx, key, addr, func() *flight {
		if a.Verify != nil {
			var topUp [][]byte
			if a.Decoys != nil {
				topUp = [][]byte{a.Decoys.Max()}
			}
			return &flight{verify: a.Verify, password: a.Password, topUp: topUp, remember: true}
		}
		return &flight{hash: hash, password: a.Password, topUp: a.Decoys.TopUp(hash), remember: a.Hash != nil}
	})
	if err != nil {
		return false, err
	}
	ok, err := g.wait(ctx, f)
	if err != nil || ok && a.Hash != nil {
		return ok, err
	}
	return false, g.failed(ctx, leader, addr, "account\x00"+a.User)
}

// addrKey is the throttle key of a client address. An IPv6 client is its
// /64: one host gets a whole /64 to pick addresses from.
func addrKey(a netip.Addr) string {
	switch a = a.Unmap(); {
	case !a.IsValid():
		return "addr\x00unknown"
	case a.Is6():
		return "addr\x00" + netip.PrefixFrom(a, 64).Masked().String()
	}
	return "addr\x00" + a.String()
}

// Refuse spends, for a login refused without a password check (no
// credentials where some are needed), the time a failed check takes, so
// that it looks like any other failure. It is not counted as a failure:
// clients probe without credentials before they send them. Concurrent
// refusals share one comparison, so a flood of them costs one slot.
func (g *Guard) Refuse(ctx context.Context, decoys *decoy.Set) error {
	hash := decoys.Max()
	f, _, err := g.join(ctx, g.cache.Key("", "", hash), "", func() *flight {
		return &flight{hash: hash}
	})
	if err != nil {
		return err
	}
	_, err = g.wait(ctx, f)
	return err
}

// failed counts a failed login and holds its answer back as long as the
// account's failures ask.
func (g *Guard) failed(ctx context.Context, leader bool, addr, account string) error {
	if g.throttle == nil {
		return nil
	}
	now := g.now()
	if !leader { // the leader's failure was counted with its reservation
		g.throttle.fail(addr, now)
	}
	delay := g.throttle.failAccount(account, now)
	if delay > 0 {
		return g.sleep(ctx, delay)
	}
	return nil
}

// Sleep waits d, or until ctx ends and returns its error: the default
// Options.Sleep.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
