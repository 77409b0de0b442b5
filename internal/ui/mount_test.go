package ui_test

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/internal/authconfig/authtest"
)

// The UI is served only when ui.enabled is set, and under http.prefix
// when there is one, with every link and cookie below it.
func TestTheUIIsMountedOnlyWhenEnabledAndBelowThePrefix(t *testing.T) {
	t.Run("off by default", func(t *testing.T) {
		s := newStack(t, stackOptions{uiOff: true})
		resp, body := s.browser(t).get("/")
		if resp.StatusCode != http.StatusNotFound || strings.Contains(body, "<html") {
			t.Errorf("GET /ui/ with the UI off: status %d\n%s", resp.StatusCode, body)
		}
	})
	t.Run("below http.prefix", func(t *testing.T) {
		s := newStack(t, stackOptions{prefix: "/registry/"})
		b := s.browser(t)
		resp, page := b.get("/login")
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, `action="/registry/ui/login"`) ||
			!strings.Contains(page, `href="/registry/ui/static/style.css"`) {
			t.Fatalf("GET /registry/ui/login: status %d\n%s", resp.StatusCode, page)
		}
		resp, _ = b.post("/login", map[string][]string{"username": {admin.user}, "password": {admin.password}})
		if c := resp.Cookies(); resp.StatusCode != http.StatusSeeOther || len(c) != 1 || c[0].Path != "/registry/ui/" {
			t.Errorf("login below the prefix: status %d, Set-Cookie %q", resp.StatusCode, resp.Header["Set-Cookie"])
		}
		if resp, body := b.get("/"); resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="no-repositories"`) {
			t.Errorf("repositories below the prefix: status %d\n%s", resp.StatusCode, body)
		}
	})
}

// A refresh token dies when its user's password changes: the next page
// asks to log in again rather than failing obscurely.
func TestARevokedSessionAsksToLogInAgain(t *testing.T) {
	s := newStack(t, stackOptions{})
	pushImages(t, s.host)
	b := s.browser(t)
	b.login(admin)
	if resp, _ := b.get("/repository?name=nginx"); resp.StatusCode != http.StatusOK {
		t.Fatalf("before: status %d", resp.StatusCode)
	}
	yml, err := os.ReadFile(s.authYAML)
	if err != nil {
		t.Fatal(err)
	}
	// Give admin the reader's password hash: admin's password changed.
	const adminHash = authtest.AdminHash
	const readerHash = authtest.ReaderHash
	changed := strings.Replace(string(yml), adminHash, readerHash, 1)
	if changed == string(yml) {
		t.Fatal("admin's hash not found in the seed config")
	}
	if err := os.WriteFile(s.authYAML, []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.authSrv.Reload(); err != nil {
		t.Fatal(err)
	}
	// A scope not asked before, so no cached access token answers.
	resp, body := b.get("/repository?name=centos")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Session expired") || !strings.Contains(body, `href="/ui/login"`) {
		t.Errorf("after the password change: status %d\n%s", resp.StatusCode, body)
	}
}

// Storage failing its health check turns the API off (503); the UI says
// the registry is unavailable instead of showing the API's JSON.
func TestRegistryDownIsAPage(t *testing.T) {
	s := newStack(t, stackOptions{mode: "none", healthGate: true})
	b := s.browser(t)
	if resp, _ := b.get("/"); resp.StatusCode != http.StatusOK {
		t.Fatalf("healthy: status %d", resp.StatusCode)
	}
	// Storage goes away: its root becomes a file, so the health probe
	// cannot write.
	if err := os.RemoveAll(s.root); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.root, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Wait (for up to a minute, polling) for the background check to see it.
	for deadline := time.Now().Add(time.Minute); ; {
		resp, err := b.c.Get(strings.TrimSuffix(s.base, "/ui") + "/v2/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the API still answers %d with storage gone", resp.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, body := b.get("/")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "Registry unavailable") || strings.Contains(body, `"errors"`) {
		t.Errorf("registry down: status %d\n%s", resp.StatusCode, body)
	}
}
