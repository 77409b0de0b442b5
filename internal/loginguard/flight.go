package loginguard

import (
	"context"
	"sync/atomic"

	"golang.org/x/crypto/bcrypt"

	"github.com/wharf-registry/wharf/internal/credcache"
)

// Slots is a semaphore for bcrypt: at most n comparisons at once, so a
// flood of logins queues instead of starving every other request. It
// counts what it does, for metrics and tests.
type Slots struct {
	ch      chan struct{}
	checks  atomic.Uint64
	waiting atomic.Int64
}

// NewSlots returns n slots.
func NewSlots(n int) *Slots {
	return &Slots{ch: make(chan struct{}, max(n, 1))}
}

// Checks returns how many password checks (each one bcrypt comparison,
// plus the decoys that equalise a failure) ran.
func (s *Slots) Checks() uint64 { return s.checks.Load() }

// Waiting returns how many checks are queued for a slot.
func (s *Slots) Waiting() int { return int(s.waiting.Load()) }

// InUse returns how many slots are taken.
func (s *Slots) InUse() int { return len(s.ch) }

// acquire takes a slot, or gives up when ctx ends.
func (s *Slots) acquire(ctx context.Context) error {
	s.waiting.Add(1)
	defer s.waiting.Add(-1)
	select {
	case s.ch <- struct{}{}:
		if err := ctx.Err(); err != nil { // both were ready: nobody waits for this check
			<-s.ch
			return err
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Slots) release() { <-s.ch }

// flight is one bcrypt check that every concurrent attempt with the same
// credentials waits for. It runs in a goroutine of its own, so a waiter
// that leaves does not end it for the others; when the last one leaves
// while it is still queued for a slot, it is cancelled.
type flight struct {
	hash     []byte
	password string
	topUp    [][]byte
	remember bool
	verify   func(context.Context) (bool, error) // instead of bcrypt

	key     credcache.Key
	addr    string // reserved in the throttle by the leader, "" for none
	cancel  context.CancelFunc
	waiters int // guarded by Guard.mu

	done chan struct{}
	ok   bool
	err  error
}

// join returns the flight for key, starting it (as leader, holding a
// throttle reservation for addr) when none runs. A throttled addr is
// refused; one whose tokens are all held by running checks waits for them.
func (g *Guard) join(ctx context.Context, key credcache.Key, addr string, newFlight func() *flight) (*flight, bool, error) {
	for {
		g.mu.Lock()
		var changed <-chan struct{}
		if t := g.throttle; t != nil && addr != "" {
			now := g.now()
			if wait := t.refused(addr, now); wait > 0 {
				g.mu.Unlock()
				return nil, false, &Throttled{RetryAfter: wait}
			}
			if f := g.flights[key]; f != nil {
				f.waiters++
				g.mu.Unlock()
				return f, false, nil
			}
			_, changed = t.reserve(addr, now)
		} else if f := g.flights[key]; f != nil {
			f.waiters++
			g.mu.Unlock()
			return f, false, nil
		}
		if changed == nil {
			f := newFlight()
			f.key, f.done, f.waiters = key, make(chan struct{}), 1
			if g.throttle != nil {
				f.addr = addr
			}
			var fctx context.Context
			fctx, f.cancel = context.WithCancel(context.WithoutCancel(ctx))
			g.flights[key] = f
			g.mu.Unlock()
			go g.run(fctx, f)
			return f, true, nil
		}
		g.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
}

// wait returns f's result, or ctx's error when the client leaves first.
func (g *Guard) wait(ctx context.Context, f *flight) (bool, error) {
	select {
	case <-f.done:
		return f.ok, f.err
	case <-ctx.Done():
	}
	g.mu.Lock()
	f.waiters--
	if f.waiters == 0 {
		// Nobody wants the answer: give the slot up if still queued, and
		// let the next attempt start afresh rather than share a
		// cancelled check.
		f.cancel()
		if g.flights[f.key] == f {
			delete(g.flights, f.key)
		}
	}
	g.mu.Unlock()
	return false, ctx.Err()
}

// run checks f's password in a slot, then resolves the leader's throttle
// reservation (spending its token on a failure) and wakes the waiters.
func (g *Guard) run(ctx context.Context, f *flight) {
	defer f.cancel()
	ok, err := g.compare(ctx, f)
	if ok && f.remember {
		g.cache.Remember(f.key)
	}
	g.mu.Lock()
	if g.flights[f.key] == f {
		delete(g.flights, f.key)
	}
	if f.addr != "" {
		g.throttle.end(f.addr, err == nil && !ok, g.now())
	}
	f.ok, f.err = ok, err
	close(f.done)
	g.mu.Unlock()
}

func (g *Guard) compare(ctx context.Context, f *flight) (bool, error) {
	if f.verify != nil {
		if ok, err := f.verify(ctx); ok || err != nil || len(f.topUp) == 0 {
			return ok, err
		}
	}
	if err := g.slots.acquire(ctx); err != nil {
		return false, err
	}
	defer g.slots.release()
	pw := []byte(f.password)
	if f.verify == nil {
		g.slots.checks.Add(1)
		if bcrypt.CompareHashAndPassword(f.hash, pw) == nil {
			return true, nil
		}
	}
	for _, h := range f.topUp {
		_ = bcrypt.CompareHashAndPassword(h, pw)
	}
	return false, nil
}
