package authserver

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/internal/authconfig/authtest"
	"github.com/wharf-registry/wharf/internal/loginguard"
	"github.com/wharf-registry/wharf/internal/testkit"
)

// eventually polls cond for up to a minute: a wait for the server to get
// somewhere, not a measure of how fast it does.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
	}
}

// TestAClientGoneWhileQueuedForBcryptIsLoggedAsCancelled: with the one
// bcrypt slot busy, a login whose client goes away while queued is logged
// as a 499 at INFO (not a 500, not an error), gives its place in the queue
// up and never runs bcrypt.
func TestAClientGoneWhileQueuedForBcryptIsLoggedAsCancelled(t *testing.T) {
	f := newFixture(t, strings.Replace(strictConfig, "users:\n", "users:\n\tslow: {password: \""+authtest.SlowHash+"\"}\n", 1))
	logs := &testkit.SyncBuffer{}
	srv, err := New(f.config, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv.slots = loginguard.NewSlots(1)
	if err := srv.Reload(); err != nil { // so the snapshot uses the one slot
		t.Fatal(err)
	}
	ts := newHTTPTestServer(t, srv)
	get := func(ctx context.Context, user, pw string) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/auth?"+url.Values{"service": {"registry.local"}}.Encode(), nil)
		req.SetBasicAuth(user, pw)
		return http.DefaultClient.Do(req)
	}

	blocker := make(chan int)
	go func() {
		resp, err := get(context.Background(), "slow", "slow")
		if err != nil {
			blocker <- 0
			return
		}
		resp.Body.Close()
		blocker <- resp.StatusCode
	}()
	eventually(t, "the slow login takes the slot", func() bool { return srv.slots.InUse() == 1 })

	ctx, cancel := context.WithCancel(context.Background())
	gone := make(chan error)
	go func() {
		_, err := get(ctx, "admin", "adminpassword")
		gone <- err
	}()
	eventually(t, "admin's login queues", func() bool { return srv.slots.Waiting() == 1 })
	cancel()
	if err := <-gone; err == nil {
		t.Fatal("the cancelled request got an answer")
	}
	eventually(t, "the cancelled login is logged", func() bool { return strings.Contains(logs.String(), "account=admin") })
	// The check leaves the queue as soon as it sees its last waiter gone.
	eventually(t, "the queue empties", func() bool { return srv.slots.Waiting() == 0 })
	if code := <-blocker; code != 200 {
		t.Fatalf("the slow login: %d", code)
	}
	if n := srv.slots.Checks(); n != 1 {
		t.Errorf("%d bcrypt checks ran, want 1: the cancelled login must not run one", n)
	}

	var line string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "account=admin") {
			line = l
		}
	}
	if !strings.Contains(line, "level=INFO") || !strings.Contains(line, "status=499") {
		t.Errorf("log line %q: want level=INFO status=499", line)
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("error logged:\n%s", logs)
	}
	// And the slot is free for the next login.
	resp, err := get(context.Background(), "admin", "adminpassword")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("a login after the cancelled one: %v %v", resp, err)
	}
	resp.Body.Close()
}
