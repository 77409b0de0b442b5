package hardening

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestEveryFailedLoginCostsTheCostliestCheck mixes one cost-10 user with
// four cost-4 users, the case where a decoy of "one of the users' costs"
// told names apart (wrong password 64 ms, unknown name 3 ms). Every kind
// of failure, on the token server and on the registry in htpasswd mode,
// gets the same answer, and (slow part, token server) takes as long as a
// check against the cost-10 hash: the medians of 31 interleaved samples
// within 25 %.
func TestEveryFailedLoginCostsTheCostliestCheck(t *testing.T) {
	users := map[string]string{"alice": costHash(t, "alice's password", 10)}
	for _, name := range []string{"bob", "carol", "dave", "erin"} {
		users[name] = costHash(t, name+"'s password", 4)
	}
	ts := newTokenServer(t, withUsers(users, "throttle: {max_failures: 0}\n"))
	reg := newHtpasswdRegistry(t, users)
	c := &http.Client{}
	tokenURL := ts.URL + "/auth?" + url.Values{"service": {service}}.Encode()

	// Each kind of failure, sample i: the answer with its Date dropped,
	// and how long it took.
	type kind struct {
		name string
		try  func(i int) (string, time.Duration)
	}
	timed := func(target, user, password string) (string, time.Duration) {
		start := time.Now()
		status, h, body := basicDo(t, c, target, user, password)
		took := time.Since(start)
		h = h.Clone()
		h.Del("Date")
		h.Del("X-Request-Id")
		keys := make([]string, 0, len(h))
		for k, v := range h {
			keys = append(keys, k+"="+strings.Join(v, ","))
		}
		sort.Strings(keys)
		return fmt.Sprintf("%d %v %s", status, keys, body), took
	}
	// The registry's throttle has no settings: its login timing is not
	// sampled (10 failures a minute per address, and then per account,
	// would be throttled or slowed down), only its answers compared. Its
	// checks are the token server's (internal/loginguard).
	programs := []struct {
		name    string
		sampled bool
		kinds   []kind
	}{
		{"token server", true, []kind{
			{"cost-10 user, wrong password", func(int) (string, time.Duration) { return timed(tokenURL, "alice", "wrong") }},
			{"cost-4 user, wrong password", func(int) (string, time.Duration) { return timed(tokenURL, "bob", "wrong") }},
			{"unknown user", func(i int) (string, time.Duration) { return timed(tokenURL, fmt.Sprintf("ghost%d", i), "wrong") }},
			{"no credentials, anonymous refused", func(int) (string, time.Duration) { return timed(tokenURL+"&account=alice", "", "") }},
		}},
		{"registry, htpasswd", false, []kind{
			{"cost-10 user, wrong password", func(int) (string, time.Duration) { return timed(reg.URL+"/v2/", "alice", "wrong") }},
			{"cost-4 user, wrong password", func(int) (string, time.Duration) { return timed(reg.URL+"/v2/", "bob", "wrong") }},
			{"unknown user", func(i int) (string, time.Duration) { return timed(reg.URL+"/v2/", fmt.Sprintf("ghost%d", i), "wrong") }},
		}},
	}
	for _, p := range programs {
		t.Run(p.name, func(t *testing.T) {
			want, _ := p.kinds[0].try(0)
			if !strings.HasPrefix(want, "401 ") {
				t.Fatalf("%s: %s, want a 401", p.kinds[0].name, want)
			}
			for _, k := range p.kinds[1:] {
				if got, _ := k.try(0); got != want {
					t.Errorf("answers differ:\n%s: %s\n%s: %s", p.kinds[0].name, want, k.name, got)
				}
			}
			if !p.sampled {
				return
			}
			if !slow() {
				t.Log("latency comparison skipped; set WHARF_HARDENING_SLOW=1")
				return
			}
			const samples = 31
			took := make([][]time.Duration, len(p.kinds))
			for i := range samples { // interleaved, so load changes hit all alike
				for j, k := range p.kinds {
					got, d := k.try(i + 1)
					if got != want {
						t.Fatalf("sample %d: %s: %s, want %s", i, k.name, got, want)
					}
					took[j] = append(took[j], d)
				}
			}
			ref := median(took[0])
			for j, k := range p.kinds {
				m := median(took[j])
				t.Logf("median %v: %s", m, k.name)
				if r := float64(m) / float64(ref); r < 0.75 || r > 1.25 {
					t.Errorf("%s: median %v, %.2f times the %v of %s; want within 25 %%", k.name, m, r, ref, p.kinds[0].name)
				}
			}
		})
	}
}
