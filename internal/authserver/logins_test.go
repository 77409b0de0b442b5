package authserver

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// costConfig is strictConfig with ci's password hashed at cost and the
// default throttle.
func costConfig(t *testing.T, cost int, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Replace(strictConfig, "users:\n", "users:\n\tci: {password: \""+string(h)+"\"}\n", 1)
}

// TestConcurrentCorrectLoginsAreNeverRefused is a CI fleet starting: n
// clients log in at once with the same right cost-10 password on a fresh
// server. None is refused, and they share one bcrypt comparison.
func TestConcurrentCorrectLoginsAreNeverRefused(t *testing.T) {
	cfg := costConfig(t, 10, "fleet-password")
	for _, n := range []int{16, 64} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			f := newFixture(t, cfg)
			codes := make([]int, n)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range codes {
				wg.Go(func() {
					<-start
					req, _ := http.NewRequest(http.MethodGet, f.ts.URL+"/auth?"+url.Values{"service": {"registry.local"}}.Encode(), nil)
					req.SetBasicAuth("ci", "fleet-password")
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					resp.Body.Close()
					codes[i] = resp.StatusCode
				})
			}
			close(start)
			wg.Wait()
			count := map[int]int{}
			for _, c := range codes {
				count[c]++
			}
			t.Logf("statuses %v", count)
			if count[200] != n {
				t.Errorf("statuses %v, want %d 200s", count, n)
			}
			if got := f.metric(t, "wharf_auth_password_checks_total"); got != "1" {
				t.Errorf("wharf_auth_password_checks_total %q, want 1: identical credentials share one bcrypt", got)
			}
		})
	}
}
