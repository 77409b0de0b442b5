package regserver

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/wharf-registry/wharf/internal/authconfig/authtest"
	"github.com/wharf-registry/wharf/internal/regconfig"
)

// TestABasicClientGoneWhileQueuedForBcryptIsLoggedAsCancelled: with every
// bcrypt slot busy (NumCPU users logging in with a cost-11 hash), a login
// whose client goes away while queued is logged as a 499 at INFO, not an
// error, leaves the queue and never runs bcrypt.
func TestABasicClientGoneWhileQueuedForBcryptIsLoggedAsCancelled(t *testing.T) {
	n := runtime.NumCPU()
	var lines strings.Builder
	for i := range n {
		fmt.Fprintf(&lines, "slow%d:%s\n", i, authtest.SlowHash)
	}
	quick, err := bcrypt.GenerateFromPassword([]byte("quick"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&lines, "quick:%s\n", quick)
	path := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(path, []byte(lines.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	reg := newRegistry(t, func(c *regconfig.Config) {
		c.Auth.Htpasswd = &regconfig.HtpasswdAuth{Realm: "Registry Realm", Path: path}
	})
	checks := reg.srv.auth.(*basicAuth).file.Checks
	get := func(ctx context.Context, user, pw string) (int, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, reg.URL+"/v2/", nil)
		req.SetBasicAuth(user, pw)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("gave up waiting: %s", what)
			}
		}
	}

	blockers := make(chan int, n)
	for i := range n {
		go func() {
			code, _ := get(context.Background(), fmt.Sprintf("slow%d", i), "slow")
			blockers <- code
		}()
	}
	waitFor("the slow logins take every slot", func() bool { ran, _ := checks(); return ran == uint64(n) })
	ctx, cancel := context.WithCancel(context.Background())
	gone := make(chan error)
	go func() {
		_, err := get(ctx, "quick", "quick")
		gone <- err
	}()
	waitFor("the quick login queues", func() bool { _, q := checks(); return q == 1 })
	cancel()
	if err := <-gone; err == nil {
		t.Fatal("the cancelled request got an answer")
	}
	waitFor("the cancelled login is logged", func() bool { return strings.Contains(reg.logs.String(), `"user":"","status":499`) })
	// The check leaves the queue as soon as it sees its last waiter gone.
	waitFor("the queue empties", func() bool { _, q := checks(); return q == 0 })
	for range n {
		if code := <-blockers; code != 200 {
			t.Fatalf("a slow login: %d", code)
		}
	}
	if ran, _ := checks(); ran != uint64(n) {
		t.Errorf("%d bcrypt checks ran, want %d: the cancelled login must not run one", ran, n)
	}
	for _, line := range strings.Split(reg.logs.String(), "\n") {
		if strings.Contains(line, `"status":499`) && !strings.Contains(line, `"level":"INFO"`) && !strings.Contains(line, `"level":"DEBUG"`) {
			t.Errorf("cancelled request logged as %s", line)
		}
		if strings.Contains(line, `"level":"ERROR"`) {
			t.Errorf("error logged: %s", line)
		}
	}
}
