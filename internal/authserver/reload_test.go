package authserver

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/wharf-registry/wharf/internal/yamlconf"
)

func readerConfig(actions string) string {
	return `server: {addr: ":5001"}
token:
	issuer: "Auth Service"
	expiration: 900
	certificate: CERT
	key: KEY
users:
	reader: {password: "` + readerHash + `"}
acl:
	- match: {account: reader, name: nginx}
	  actions: ` + actions + `
`
}

func (f *fixture) readerGrant(t *testing.T) string {
	t.Helper()
	tr := tokenBody(t, f.get(t, url.Values{"service": {"r"}, "scope": {"repository:nginx:pull,push"}}, "reader", "readerpassword"))
	_, _, acc := verifyJose(t, tr.Token, f.kp.Public)
	return grants(acc)["repository:nginx"]
}

func (f *fixture) metric(t *testing.T, name string) string {
	t.Helper()
	resp, err := http.Get(f.ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, name+" ") {
			return strings.TrimPrefix(line, name+" ")
		}
	}
	return ""
}

func TestReloadKeepsTheOldConfigOnABadEdit(t *testing.T) {
	f := newFixture(t, readerConfig("[pull]"))
	if g := f.readerGrant(t); g != "pull" {
		t.Fatalf("initial grant %q", g)
	}

	f.write(t, strings.Replace(readerConfig("[pull, push]"), "{account: reader", "{acount: reader", 1))
	err := f.srv.Reload()
	var ps yamlconf.Problems
	if !errors.As(err, &ps) || !strings.Contains(err.Error(), "acl[0].match.acount") {
		t.Fatalf("Reload of a bad file: %v", err)
	}
	if g := f.readerGrant(t); g != "pull" {
		t.Errorf("after a bad edit the grant is %q, want the old config's pull", g)
	}

	f.write(t, readerConfig("[pull, push]"))
	if err := f.srv.Reload(); err != nil {
		t.Fatal(err)
	}
	if g := f.readerGrant(t); g != "pull,push" {
		t.Errorf("after a good edit the grant is %q, want pull,push", g)
	}
	if f.metric(t, `wharf_auth_config_reloads_total{result="failure"}`) != "1" ||
		f.metric(t, `wharf_auth_config_reloads_total{result="success"}`) != "1" {
		t.Error("reload metrics not counted")
	}
}

func TestWatchReloadsWhenTheFileIsReplaced(t *testing.T) {
	f := newFixture(t, readerConfig("[pull]"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := f.srv.Watch(ctx); err != nil {
		t.Fatal(err)
	}

	// A broken edit is reported and ignored.
	f.write(t, readerConfig("[pull") /* unterminated flow sequence */)
	waitFor(t, "the failed reload", func() bool {
		return f.metric(t, `wharf_auth_config_reloads_total{result="failure"}`) != ""
	})
	if g := f.readerGrant(t); g != "pull" {
		t.Errorf("after a broken edit the grant is %q", g)
	}

	// A good one takes effect without a signal.
	f.write(t, readerConfig("[pull, push]"))
	waitFor(t, "the new grants", func() bool { return f.readerGrant(t) == "pull,push" })
}

// waitFor polls cond until it holds; the deadline only bounds a hung test.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Unknown users are checked against a decoy at the costliest cost in the
// config, recomputed on every reload and the same on every start.
func TestDecoyCostIsTheCostliestInUseAfterReloads(t *testing.T) {
	withCost := func(cost int) string {
		h, err := bcrypt.GenerateFromPassword([]byte("pw"), cost)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Replace(strictConfig, "users:\n", "users:\n\tcarol: {password: \""+string(h)+"\"}\n", 1)
	}
	f := newFixture(t, withCost(4)) // admin is cost 5
	steps := []struct {
		config string
		want   int
	}{
		{withCost(4), 5},
		{withCost(7), 7},
		{withCost(6), 6},
		{strictConfig, 5},
	}
	for i, s := range steps {
		f.write(t, s.config)
		if err := f.srv.Reload(); err != nil {
			t.Fatal(err)
		}
		if got := f.srv.snap.Load().decoys.MaxCost(); got != s.want {
			t.Errorf("step %d: decoy cost %d, want %d", i, got, s.want)
		}
		restarted, err := New(f.config, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := restarted.snap.Load().decoys.MaxCost(); got != s.want {
			t.Errorf("step %d, after a restart: decoy cost %d, want %d", i, got, s.want)
		}
	}
}
