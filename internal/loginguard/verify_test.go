package loginguard

import (
	"context"
	"errors"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/internal/credcache"
)

// A backend (Verify) decides instead of bcrypt, with the guard's cache,
// single flight and throttle: a success is remembered, a refusal counts
// as a failure, an error (backend down) does not, and is returned.
func TestVerifyDecidesWithTheGuardsProtections(t *testing.T) {
	th := NewThrottle(2, time.Hour, 100)
	g := New(Options{Slots: NewSlots(1), Cache: credcache.New(100, time.Hour), Throttle: th,
		Sleep: func(context.Context, time.Duration) error { return nil }})
	var calls atomic.Int32
	down := errors.New("directory down")
	attempt := func(password string) (bool, error) {
		return g.Check(context.Background(), Attempt{User: "u", Password: password, Hash: []byte("\x00backend"),
			Addr: netip.MustParseAddr("192.0.2.1"), Verify: func(context.Context) (bool, error) {
				calls.Add(1)
				switch password {
				case "right":
					return true, nil
				case "error":
					return false, down
				}
				return false, nil
			}})
	}
	if ok, err := attempt("right"); !ok || err != nil {
		t.Fatalf("right: %v %v", ok, err)
	}
	if ok, err := attempt("right"); !ok || err != nil || calls.Load() != 1 {
		t.Fatalf("cached: %v %v after %d calls, want 1 call", ok, err, calls.Load())
	}
	for range 3 { // errors are no failures: the address is not refused
		if _, err := attempt("error"); !errors.Is(err, down) {
			t.Fatalf("error: %v", err)
		}
	}
	for range 2 {
		if ok, err := attempt("wrong"); ok || err != nil {
			t.Fatalf("wrong: %v %v", ok, err)
		}
	}
	var throttled *Throttled
	if _, err := attempt("wrong"); !errors.As(err, &throttled) {
		t.Fatalf("third failure from one address: %v, want throttled", err)
	}
}
