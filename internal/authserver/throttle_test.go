package authserver

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
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

func TestFailedLoginsAreThrottledButGoodOnesAreNot(t *testing.T) {
	f := newFixture(t, throttleConfig(t, 1000))
	steps := []struct {
		name           string
		peer, user, pw string
		want           int
	}{
		{"admin logs in (and is remembered)", "192.0.2.1", "admin", "adminpassword", 200},
		{"attack 1", "192.0.2.66", "admin", "guess1", 401},
		{"attack 2", "192.0.2.66", "admin", "guess2", 401},
		{"attack 3", "192.0.2.66", "admin", "guess3", 401},
		{"attack 4 is refused before bcrypt", "192.0.2.66", "admin", "guess4", 429},
		{"a remembered right password passes even from there", "192.0.2.66", "admin", "adminpassword", 200},
		{"admin, already proven right, is not slowed", "192.0.2.2", "admin", "adminpassword", 200},
		{"the attacker's IP is throttled for other accounts", "192.0.2.66", "bob", "bob-pw", 429},
		{"bob elsewhere is fine", "192.0.2.3", "bob", "bob-pw", 200},
		{"unknown account, failure 1", "192.0.2.10", "ghost", "x", 401},
		{"unknown account, failure 2", "192.0.2.11", "ghost", "x", 401},
		{"unknown account, failure 3", "192.0.2.12", "ghost", "x", 401},
		{"unknown accounts are throttled like real ones", "192.0.2.13", "ghost", "x", 429},
		{"a real account under attack from many IPs", "192.0.2.20", "bob", "b1", 401},
		{"...", "192.0.2.21", "bob", "b2", 401},
		{"...", "192.0.2.22", "bob", "b3", 401},
		{"is throttled for uncached logins", "192.0.2.23", "bob", "b4", 429},
		{"but bob's remembered password still works", "192.0.2.24", "bob", "bob-pw", 200},
	}
	for i, s := range steps {
		rec := login(f, s.peer, s.user, s.pw)
		if rec.Code != s.want {
			t.Fatalf("step %d (%s): status %d, want %d: %s", i, s.name, rec.Code, s.want, rec.Body)
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
	if got := f.metric(t, "wharf_auth_throttled_total"); got != "4" {
		t.Errorf("throttled metric %q, want 4", got)
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
	if n := f.srv.snap.Load().throttle.tracked(); n > 20 {
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
