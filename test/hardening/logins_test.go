package hardening

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// clientFrom returns an HTTP client whose connections leave from the
// loopback address local (any of 127.0.0.0/8 works on Linux), so that the
// server sees a client of that address.
func clientFrom(t *testing.T, local string) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	tr := &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 100}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// basicDo sends GET target with Basic credentials (none for user "")
// through c and returns the status (0 after a transport error, which fails
// the test), headers and body.
func basicDo(t *testing.T, c *http.Client, target, user, password string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Error(err)
		return 0, nil, nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, body
}

// basicGet sends a token request with Basic credentials through c and
// returns the status and the Retry-After header.
func basicGet(t *testing.T, c *http.Client, base, user, password string) (int, string) {
	t.Helper()
	status, h, _ := basicDo(t, c, base+"/auth?"+url.Values{"service": {service}}.Encode(), user, password)
	return status, h.Get("Retry-After")
}

func costHash(t *testing.T, password string, cost int) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// withUsers replaces scopeConfig's users.
func withUsers(users map[string]string, extra string) string {
	var b strings.Builder
	for name, hash := range users {
		fmt.Fprintf(&b, "\t%s: {password: %q}\n", name, hash)
	}
	i := strings.Index(scopeConfig, "users:\n")
	j := strings.Index(scopeConfig, "acl:\n")
	return scopeConfig[:i] + "users:\n" + b.String() + scopeConfig[j:] + extra
}

// TestAFailureFloodDoesNotLockTheAccountOutElsewhere: 200 wrong passwords
// for admin, all at once from 127.0.0.2, do not keep admin from logging in
// from 127.0.0.1. The flooding address itself is refused (429) until its
// failures are forgiven, even with admin's right password, unless that
// password was verified within the last minute (from anywhere): a right
// password it had not proven is just another guess.
func TestAFailureFloodDoesNotLockTheAccountOutElsewhere(t *testing.T) {
	// A window of an hour: the flood must not outlast a refill (at the
	// default 10 a minute, one comes back every 6 s; -race and a busy
	// machine make the flood take that long).
	ts := newTokenServer(t, withUsers(map[string]string{"admin": costHash(t, "admin's password", 10)},
		"throttle: {max_failures: 10, window: 3600}\n"))
	attacker, user := clientFrom(t, "127.0.0.2"), clientFrom(t, "127.0.0.1")

	const flood = 200
	codes := make([]int, flood)
	var wg sync.WaitGroup
	for i := range codes {
		wg.Go(func() { codes[i], _ = basicGet(t, attacker, ts.URL, "admin", fmt.Sprintf("guess %d", i)) })
	}
	wg.Wait()
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	if count[401] != 10 || count[429] != flood-10 {
		t.Errorf("flood statuses %v: want 10 401s (max_failures) and %d 429s", count, flood-10)
	}

	if code, retry := basicGet(t, attacker, ts.URL, "admin", "admin's password"); code != 429 || retry == "" {
		t.Errorf("right, unproven password from the flooding address: %d (Retry-After %q), want 429 with Retry-After", code, retry)
	}
	start := time.Now()
	if code, _ := basicGet(t, user, ts.URL, "admin", "admin's password"); code != 200 {
		t.Errorf("admin from another address after the flood: %d, want 200", code)
	}
	t.Logf("admin's login from 127.0.0.1 after the flood took %v", time.Since(start))
	if code, _ := basicGet(t, attacker, ts.URL, "admin", "admin's password"); code != 200 {
		t.Errorf("right password just proven elsewhere, from the flooding address: %d, want 200", code)
	}
}

// TestConcurrentRightPasswordsFromOneAddressAreNeverRefused: 16 clients of
// one address (a CI fleet behind NAT) log in at once, with as many
// accounts as there are clients, while the throttle allows 3 failures: a
// login waits for the checks running before it rather than being refused.
func TestConcurrentRightPasswordsFromOneAddressAreNeverRefused(t *testing.T) {
	// One cost-10 hash for all: each account is still its own check, and
	// each takes long enough for all 16 to arrive while the first run.
	users, hash := map[string]string{}, costHash(t, "robot password", 10)
	for i := range 16 {
		users[fmt.Sprintf("ci%d", i)] = hash
	}
	ts := newTokenServer(t, withUsers(users, "throttle: {max_failures: 3, window: 3600}\n"))
	c := clientFrom(t, "127.0.0.3")
	codes := make([]int, 16)
	var wg sync.WaitGroup
	for i := range codes {
		wg.Go(func() { codes[i], _ = basicGet(t, c, ts.URL, fmt.Sprintf("ci%d", i), "robot password") })
	}
	wg.Wait()
	for i, code := range codes {
		if code != 200 {
			t.Errorf("ci%d: %d, want 200", i, code)
		}
	}
}
