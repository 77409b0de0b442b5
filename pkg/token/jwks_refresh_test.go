package token

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// hangingJWKSServer is a jwksServer whose answers, once hang is called,
// wait until release.
func hangingJWKSServer(t *testing.T) (srv *jwksServer, hang func(), release func()) {
	srv = newJWKSServer(t)
	gate := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release) // before the server closes: cleanups run last-in first-out
	return srv, func() { srv.gate.Store(&gate) }, release
}

// signedBy returns a token for testing signed by k, valid for an hour
// after now.
func signedBy(t *testing.T, k *Key, now time.Time, jti string) string {
	t.Helper()
	raw, err := k.Sign(&Claims{RegisteredClaims: jwt.RegisteredClaims{
		Issuer: "auth.test", Subject: "carol", Audience: jwt.ClaimStrings{"registry.test"}, ID: jti,
		ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)), IssuedAt: jwt.NewNumericDate(now),
	}})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func newJWKSVerifier(t *testing.T, src *JWKSSource, clock *fakeClock) *Verifier {
	t.Helper()
	v, err := NewVerifier(VerifierOptions{Issuer: "auth.test", Service: "registry.test", KeySource: src, Now: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// fetching reports whether a fetch of the set is in flight.
func (s *JWKSSource) fetching() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inflight != nil
}

// within fails the test if fn does not return before a generous guard: the
// behaviour under test is "does not wait for the hung server at all", and a
// regression shows as fn blocking until the server is released.
func within(t *testing.T, what string, fn func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(time.Minute):
		t.Fatalf("%s waited behind the hung JWKS server", what)
	}
}

// While the JWKS server hangs (a reload of the set in flight, callers with
// unknown kids waiting for it), verifications by known keys go ahead.
func TestKnownKeysVerifyWhileTheJWKSServerHangs(t *testing.T) {
	srv, hang, release := hangingJWKSServer(t)
	a := newECKey(t)
	srv.publish(t, a)
	clock := &fakeClock{}
	src, ticker := newTickedURLSource(t, srv, clock)
	v := newJWKSVerifier(t, src, clock)
	if _, err := v.Verify(context.Background(), signedBy(t, a, clock.now(), "first")); err != nil {
		t.Fatal(err)
	}

	hang()
	clock.advance(time.Hour)
	ticker.tickNoWait() // the interval's reload, now hanging
	stranger := newECKey(t)
	unknownDone := make(chan error, 1)
	go func() { // an unknown kid waits for that reload
		_, err := v.Verify(context.Background(), signedBy(t, stranger, clock.now(), "stranger"))
		unknownDone <- err
	}()
	for srv.requests.Load() < 2 { // the reload has reached the server
		time.Sleep(time.Millisecond)
	}
	for i := range 3 {
		within(t, "a verification by a known key", func() error {
			_, err := v.Verify(context.Background(), signedBy(t, a, clock.now(), "during-"+string(rune('a'+i))))
			return err
		})
		// Done while the reload still hangs, not after it gave up.
		if !src.fetching() {
			t.Fatal("the verification by a known key returned only once the hung reload had ended")
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	within(t, "an unknown kid whose request has gone", func() error {
		if _, err := v.Verify(ctx, signedBy(t, stranger, clock.now(), "gone")); !errors.Is(err, ErrInvalidToken) {
			return err
		}
		return nil
	})
	release()
	if err := <-unknownDone; !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("unknown kid after the reload: %v, want ErrInvalidToken", err)
	}
	if n := srv.requests.Load(); n != 2 {
		t.Errorf("%d JWKS requests, want 2: the waiting callers share the reload", n)
	}
}

// A key withdrawn from the JWKS stops verifying at the next reload, one
// interval later at most, tokens verified (and cached) before included.
func TestWithdrawnKeyStopsVerifyingAtTheNextReload(t *testing.T) {
	srv := newJWKSServer(t)
	a, b := newECKey(t), newECKey(t)
	srv.publish(t, a, b)
	clock := &fakeClock{}
	src, ticker := newTickedURLSource(t, srv, clock)
	v := newJWKSVerifier(t, src, clock)
	byA, byB := signedBy(t, a, clock.now(), "a"), signedBy(t, b, clock.now(), "b")
	for _, raw := range []string{byA, byB, byA} { // the second byA is a cache hit
		if _, err := v.Verify(context.Background(), raw); err != nil {
			t.Fatal(err)
		}
	}

	srv.publish(t, b) // a is withdrawn
	clock.advance(time.Hour)
	ticker.tick()
	if _, err := v.Verify(context.Background(), byA); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("cached token by the withdrawn key: %v, want ErrInvalidToken", err)
	}
	if _, err := v.Verify(context.Background(), signedBy(t, a, clock.now(), "a2")); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("new token by the withdrawn key: %v, want ErrInvalidToken", err)
	}
	if _, err := v.Verify(context.Background(), byB); err != nil {
		t.Fatalf("token by the key still published: %v", err)
	}
}
