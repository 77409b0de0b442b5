package hardening

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/internal/loginguard"
	"github.com/wharf-registry/wharf/internal/regconfig"
)

// newHtpasswdRegistry is a registry in htpasswd mode with the given
// user:hash lines.
func newHtpasswdRegistry(t *testing.T, users map[string]string) *registry {
	t.Helper()
	var b strings.Builder
	for name, hash := range users {
		b.WriteString(name + ":" + hash + "\n")
	}
	path := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return newRegistry(t, func(c *regconfig.Config) {
		c.Auth.Htpasswd = &regconfig.HtpasswdAuth{Realm: "Registry Realm", Path: path}
	})
}

// basicV2 sends GET /v2/ with Basic credentials through c and returns the
// status, the error code and Retry-After.
func basicV2(t *testing.T, c *http.Client, base, user, password string) (int, string, string) {
	t.Helper()
	status, h, body := basicDo(t, c, base+"/v2/", user, password)
	return status, errorCode(body), h.Get("Retry-After")
}

// metricValue reads one sample of the registry's /metrics, "" if absent.
func metricValue(t *testing.T, base, name string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	return ""
}

// TestHtpasswdConcurrentRightPasswordsShareOneCheck: 64 clients at once
// with the same right cost-10 password, on a fresh registry, are all let
// in, after one bcrypt comparison.
func TestHtpasswdConcurrentRightPasswordsShareOneCheck(t *testing.T) {
	reg := newHtpasswdRegistry(t, map[string]string{"ci": costHash(t, "fleet", 10)})
	c := clientFrom(t, "127.0.0.4")
	codes := make([]int, 64)
	var wg sync.WaitGroup
	for i := range codes {
		wg.Go(func() { codes[i], _, _ = basicV2(t, c, reg.URL, "ci", "fleet") })
	}
	wg.Wait()
	count := map[int]int{}
	for _, code := range codes {
		count[code]++
	}
	if count[200] != len(codes) {
		t.Errorf("statuses %v, want %d 200s", count, len(codes))
	}
	if got := metricValue(t, reg.URL, "registry_password_checks_total"); got != "1" {
		t.Errorf("registry_password_checks_total %q, want 1", got)
	}
}

// TestHtpasswdFailureFloodDoesNotLockOutAnotherAddress: 200 wrong
// passwords at once from 127.0.0.2 reach bcrypt 10 times (the default
// limit, plus what refilled meanwhile) and get 429 TOOMANYREQUESTS with
// Retry-After otherwise; the same user from 127.0.0.1 is let in.
func TestHtpasswdFailureFloodDoesNotLockOutAnotherAddress(t *testing.T) {
	reg := newHtpasswdRegistry(t, map[string]string{"admin": costHash(t, "admin's password", 10)})
	attacker := clientFrom(t, "127.0.0.2")
	type answer struct{ code, retry string }
	answers := make([]answer, 200)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range answers {
		wg.Go(func() {
			status, code, retry := basicV2(t, attacker, reg.URL, "admin", fmt.Sprintf("guess %d", i))
			answers[i] = answer{strconv.Itoa(status) + " " + code, retry}
		})
	}
	wg.Wait()
	// The registry's limit is not configurable, and a failure comes back
	// every 6 s: a flood slowed down by -race or load may see some.
	refills := int(time.Since(start) / (loginguard.DefaultWindow / loginguard.DefaultMaxFailures))
	count := map[string]int{}
	for _, a := range answers {
		count[a.code]++
		if strings.HasPrefix(a.code, "429") && a.retry == "" {
			t.Errorf("429 without Retry-After")
		}
	}
	if n := count["401 UNAUTHORIZED"]; n < 10 || n > 10+refills || count["429 TOOMANYREQUESTS"] != 200-n {
		t.Errorf("flood answers %v, want 10 (+ %d refilled) 401 UNAUTHORIZED and the rest 429 TOOMANYREQUESTS", count, refills)
	}
	if status, code, _ := basicV2(t, clientFrom(t, "127.0.0.1"), reg.URL, "admin", "admin's password"); status != 200 {
		t.Errorf("admin from another address after the flood: %d %s, want 200", status, code)
	}
}

// TestHtpasswdBcryptIsBounded: 4 logins per CPU at once, each a failure
// for its own unknown name from its own address (so nothing throttles or
// shares them), queue for NumCPU bcrypt slots instead of all running.
func TestHtpasswdBcryptIsBounded(t *testing.T) {
	reg := newHtpasswdRegistry(t, map[string]string{"admin": costHash(t, "admin's password", 10)})
	n := 4 * runtime.NumCPU()
	var wg sync.WaitGroup
	for i := range n {
		c := clientFrom(t, fmt.Sprintf("127.0.1.%d", i+1))
		wg.Go(func() { basicV2(t, c, reg.URL, fmt.Sprintf("ghost%d", i), "x") })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	most := 0
	for polling := true; polling; {
		select {
		case <-done:
			polling = false
		case <-time.After(20 * time.Millisecond):
			if q, err := strconv.Atoi(metricValue(t, reg.URL, "registry_password_checks_queued")); err == nil {
				most = max(most, q)
			}
		}
	}
	// Unbounded, nothing would ever queue; bounded, all but NumCPU do once
	// they have all arrived. Half leaves room for stragglers.
	if most < n/2 {
		t.Errorf("at most %d of %d concurrent checks seen queued, want at least %d: bcrypt is not bounded", most, n, n/2)
	}
	if got := metricValue(t, reg.URL, "registry_password_checks_total"); got != strconv.Itoa(n) {
		t.Errorf("registry_password_checks_total %q, want %d", got, n)
	}
	t.Logf("%d checks, at most %d seen queued", n, most)
}
