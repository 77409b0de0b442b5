package authserver

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func throttleConfig(t *testing.T, maxTracked int) string {
	return strings.Replace(strictConfig, "users:\n", "users:\n\tbob: {password: \""+hashPassword(t, "bob-pw")+"\"}\n", 1) +
		fmt.Sprintf("throttle: {max_failures: 3, window: 3600, max_tracked: %d}\n", maxTracked)
}

// login sends a GET token request as user from the peer address.
func login(f *fixture, peer, user, pw string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/auth?service=registry.local", nil)
	req.RemoteAddr = peer + ":40000"
	req.SetBasicAuth(user, pw)
	rec := httptest.NewRecorder()
	f.srv.Handler().ServeHTTP(rec, req)
	return rec
}

// slowDowns makes f's server record, instead of wait, the delays it puts
// on failed logins, and returns them.
func slowDowns(f *fixture) func() []time.Duration {
	var mu sync.Mutex
	var got []time.Duration
	f.srv.sleep = func(_ context.Context, d time.Duration) error {
		mu.Lock()
		got = append(got, d)
		mu.Unlock()
		return nil
	}
	return func() []time.Duration {
		mu.Lock()
		defer mu.Unlock()
		out := got
		got = nil
		return out
	}
}

func TestFailedLoginsAreThrottledButGoodOnesAreNot(t *testing.T) {
	f := newFixture(t, strings.Replace(throttleConfig(t, 1000), "users:\n", "users:\n\tcarol: {password: \""+hashPassword(t, "carol-pw")+"\"}\n", 1))
	delays := slowDowns(f)
	steps := []struct {
		name           string
		peer, user, pw string
		want           int
		slowed         bool
	}{
		{"admin logs in (and is remembered)", "192.0.2.1", "admin", "adminpassword", 200, false},
		{"attack 1", "192.0.2.66", "admin", "guess1", 401, false},
		{"attack 2", "192.0.2.66", "admin", "guess2", 401, false},
		{"attack 3", "192.0.2.66", "admin", "guess3", 401, false},
		{"attack 4 is refused before bcrypt", "192.0.2.66", "admin", "guess4", 429, false},
		{"a remembered right password passes even from there", "192.0.2.66", "admin", "adminpassword", 200, false},
		{"admin, already proven right, is not slowed", "192.0.2.2", "admin", "adminpassword", 200, false},
		{"the attacker's address is throttled for other accounts", "192.0.2.66", "bob", "bob-pw", 429, false},
		{"bob elsewhere is fine", "192.0.2.3", "bob", "bob-pw", 200, false},
		{"unknown account, failure 1", "192.0.2.10", "ghost", "x", 401, false},
		{"unknown account, failure 2", "192.0.2.11", "ghost", "x", 401, false},
		{"unknown account, failure 3", "192.0.2.12", "ghost", "x", 401, false},
		{"unknown accounts are slowed like real ones", "192.0.2.13", "ghost", "x", 401, true},
		{"an account under attack from many addresses", "192.0.2.20", "carol", "c1", 401, false},
		{"...", "192.0.2.21", "carol", "c2", 401, false},
		{"...", "192.0.2.22", "carol", "c3", 401, false},
		{"has its further failures slowed down", "192.0.2.23", "carol", "c4", 401, true},
		{"never refused", "192.0.2.24", "carol", "c5", 401, true},
		{"and its right password, never checked before, passes at once", "192.0.2.25", "carol", "carol-pw", 200, false},
	}
	for i, s := range steps {
		rec := login(f, s.peer, s.user, s.pw)
		if rec.Code != s.want {
			t.Fatalf("step %d (%s): status %d, want %d: %s", i, s.name, rec.Code, s.want, rec.Body)
		}
		if d := delays(); s.slowed != (len(d) == 1 && d[0] == time.Second) || !s.slowed && len(d) > 0 {
			t.Fatalf("step %d (%s): delays %v, want slowed %v (by 1 s)", i, s.name, d, s.slowed)
		}
		if rec.Code == 429 {
			if ra, err := strconv.Atoi(rec.Header().Get("Retry-After")); err != nil || ra < 1 {
				t.Errorf("step %d: Retry-After %q", i, rec.Header().Get("Retry-After"))
			}
			if !strings.Contains(rec.Body.String(), `"error":"slow_down"`) {
				t.Errorf("step %d: body %s", i, rec.Body)
			}
		}
	}
	if got := f.metric(t, "wharf_auth_throttled_total"); got != "2" {
		t.Errorf("throttled metric %q, want 2", got)
	}

	// A reload must not forgive the attacker (the limits are unchanged).
	if err := f.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	if rec := login(f, "192.0.2.66", "admin", "guess5"); rec.Code != 429 {
		t.Errorf("after a reload the attacker gets %d, want 429", rec.Code)
	}
}

func TestThrottleMemoryIsBounded(t *testing.T) {
	f := newFixture(t, throttleConfig(t, 20))
	for i := range 200 {
		login(f, fmt.Sprintf("198.51.100.%d", i%250), fmt.Sprintf("user%d", i), "x")
	}
	if n := f.srv.snap.Load().throttle.Tracked(); n > 20 {
		t.Errorf("%d keys tracked, want at most 20", n)
	}
}

func TestParallelBruteForceIsThrottled(t *testing.T) {
	f := newFixture(t, throttleConfig(t, 1000))
	var wg sync.WaitGroup
	codes := make([]int, 200)
	for i := range codes {
		wg.Go(func() {
			codes[i] = login(f, "192.0.2.66", "admin", fmt.Sprintf("guess%d", i)).Code
		})
	}
	wg.Wait()
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	// Exactly max_failures guesses reach bcrypt, however many run at once.
	if count[401] != 3 || count[429] != len(codes)-3 {
		t.Errorf("statuses %v: want 3 401s and the rest 429", count)
	}
	if rec := login(f, "192.0.2.7", "bob", "bob-pw"); rec.Code != 200 {
		t.Errorf("a good login elsewhere after the attack: %d", rec.Code)
	}
}
