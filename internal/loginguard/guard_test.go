package loginguard

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/wharf-registry/wharf/internal/credcache"
	"github.com/wharf-registry/wharf/internal/decoy"
)

// fixture is a guard with one slot, which the test can hold to keep
// checks queued, and one user whose password is "right".
type fixture struct {
	g      *Guard
	slots  *Slots
	hash   []byte
	decoys *decoy.Set
}

func newFixture(t *testing.T, throttle *Throttle) *fixture {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte("right"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	decoys, err := decoy.New([][]byte{hash})
	if err != nil {
		t.Fatal(err)
	}
	slots := NewSlots(1)
	g := New(Options{Slots: slots, Cache: credcache.New(0, 0), Throttle: throttle,
		Sleep: func(context.Context, time.Duration) error { return nil }}) // no account slow-downs
	return &fixture{g: g, slots: slots, hash: hash, decoys: decoys}
}

// hold takes the only slot until the returned func is called.
func (f *fixture) hold() func() {
	f.slots.ch <- struct{}{}
	return func() { <-f.slots.ch }
}

// queued holds the slot and starts a check of password from 192.0.2.1
// that queues for it; it returns the slot's release, the check's result
// and the cancel of its context.
func (f *fixture) queued(t *testing.T, password string) (release func(), r chan result, leave func()) {
	t.Helper()
	release = f.hold()
	ctx, leave := context.WithCancel(context.Background())
	t.Cleanup(leave)
	r = f.check(ctx, password, "192.0.2.1")
	waitFor(t, "the check queues", func() bool { return f.slots.Waiting() == 1 })
	return release, r, leave
}

type result struct {
	ok  bool
	err error
}

// check starts a check of password from addr and returns its result
// channel.
func (f *fixture) check(ctx context.Context, password, addr string) chan result {
	ch := make(chan result, 1)
	go func() {
		ok, err := f.g.Check(ctx, Attempt{User: "u", Password: password, Hash: f.hash, Addr: netip.MustParseAddr(addr), Decoys: f.decoys})
		ch <- result{ok, err}
	}()
	return ch
}

func (f *fixture) flightWaiters() int {
	f.g.mu.Lock()
	defer f.g.mu.Unlock()
	n := 0
	for _, fl := range f.g.flights {
		n += fl.waiters
	}
	return n
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
	}
}

func TestTheFirstCheckersDepartureDoesNotFailTheOthers(t *testing.T) {
	f := newFixture(t, nil)
	release, first, leave := f.queued(t, "right")
	second := f.check(context.Background(), "right", "192.0.2.2")
	waitFor(t, "the second joins it", func() bool { return f.flightWaiters() == 2 })
	leave()
	if r := <-first; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("the departed checker got %+v", r)
	}
	release()
	if r := <-second; !r.ok || r.err != nil {
		t.Fatalf("the remaining checker got %+v, want ok", r)
	}
	if n := f.slots.Checks(); n != 1 {
		t.Errorf("%d bcrypt checks, want 1 shared", n)
	}
}

func TestTheLastCheckersDepartureGivesTheSlotUp(t *testing.T) {
	f := newFixture(t, nil)
	release, r, leave := f.queued(t, "right")
	leave()
	if got := <-r; !errors.Is(got.err, context.Canceled) {
		t.Fatalf("got %+v", got)
	}
	waitFor(t, "the queue empties", func() bool { return f.slots.Waiting() == 0 })
	release()
	// A new check of the same credentials does not inherit the cancelled one.
	if got := <-f.check(context.Background(), "right", "192.0.2.1"); !got.ok || got.err != nil {
		t.Fatalf("the next check got %+v", got)
	}
	if n := f.slots.Checks(); n != 1 {
		t.Errorf("%d bcrypt checks, want 1: the cancelled check never ran", n)
	}
}

// With one failure allowed, a second attempt from the address while the
// first is being checked waits for it: refused if it failed, run if it
// succeeded.
func TestAnAttemptWaitsForTheRunningOnesInsteadOfBeingRefused(t *testing.T) {
	for _, tt := range []struct {
		first   string
		refused bool
	}{{"wrong", true}, {"right", false}} {
		t.Run("first "+tt.first, func(t *testing.T) {
			f := newFixture(t, NewThrottle(1, time.Hour, 100))
			release, first, _ := f.queued(t, tt.first)
			second := f.check(context.Background(), "right", "192.0.2.1")
			select {
			case r := <-second:
				t.Fatalf("the second attempt was answered while the first ran: %+v", r)
			case <-time.After(50 * time.Millisecond):
			}
			release()
			<-first
			r := <-second
			var throttled *Throttled
			if errors.As(r.err, &throttled) != tt.refused || !tt.refused && !r.ok {
				t.Errorf("second attempt %+v, want refused: %v", r, tt.refused)
			}
		})
	}
}

// A reload that keeps the limits hands the Throttle to the new config's
// Guard while the old one still finishes its checks (run with -race).
func TestGuardsOfTwoConfigsShareAThrottle(t *testing.T) {
	th := NewThrottle(1000, time.Hour, 100)
	a, b := newFixture(t, th), newFixture(t, th)
	a.slots, b.slots = NewSlots(4), NewSlots(4)
	a.g.slots, b.g.slots = a.slots, b.slots
	var results []chan result
	for i := range 20 {
		for _, f := range []*fixture{a, b} {
			results = append(results, f.check(context.Background(), fmt.Sprintf("wrong %d", i), "192.0.2.1"))
		}
	}
	for _, r := range results {
		if got := <-r; got.ok || got.err != nil {
			t.Fatalf("got %+v, want a plain failure", got)
		}
	}
	if n := th.Tracked(); n != 2 {
		t.Errorf("%d keys tracked, want 2 (the address and the account)", n)
	}
}

func TestAnIPv6ClientIsThrottledByItsSlash64(t *testing.T) {
	f := newFixture(t, NewThrottle(2, time.Hour, 100))
	for _, tt := range []struct {
		addr    string
		refused bool
	}{
		{"2001:db8:1:2::1", false},
		{"2001:db8:1:2:ffff::9", false},
		{"2001:db8:1:2:abcd::1", true}, // the same /64: its two failures are spent
		{"2001:db8:1:3::1", false},     // the next /64
		{"192.0.2.1", false},
	} {
		r := <-f.check(context.Background(), "wrong", tt.addr)
		var throttled *Throttled
		if errors.As(r.err, &throttled) != tt.refused {
			t.Errorf("%s: %+v, want refused: %v", tt.addr, r, tt.refused)
		}
	}
}

func TestRetryAfterRoundsUpToWholeSeconds(t *testing.T) {
	for d, want := range map[time.Duration]int{0: 1, time.Nanosecond: 1, time.Second: 1, 1200 * time.Millisecond: 2, 6 * time.Second: 6} {
		if got := (&Throttled{RetryAfter: d}).RetryAfterSeconds(); got != want {
			t.Errorf("RetryAfter %v: %d s, want %d", d, got, want)
		}
	}
}
