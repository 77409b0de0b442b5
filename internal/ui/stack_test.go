package ui_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/wharf-registry/wharf/internal/authconfig/authtest"
	"github.com/wharf-registry/wharf/internal/authserver"
	"github.com/wharf-registry/wharf/internal/regconfig"
	"github.com/wharf-registry/wharf/internal/regserver"
	"github.com/wharf-registry/wharf/pkg/storage"
)

// stack is a token server and a registry with the UI, in process, on
// loopback. Addresses use localhost: go-containerregistry refuses a
// loopback IP literal as realm (see NOTES.md).
type stack struct {
	authSrv  *authserver.Server
	authYAML string // the token server's config file
	auth     *httptest.Server
	reg      *httptest.Server
	root     string // the registry's storage
	host     string // the registry's localhost:port
	base     string // the UI's URL
}

type stackOptions struct {
	authYAML func(string) string             // edits the seed auth_config.yml
	realm    func(http.Handler) http.Handler // wraps the token server
	mode     string                          // "token" (default), "htpasswd", "none"
	tls      bool                            // the registry serves HTTPS
	prefix   string                          // http.prefix
	uiOff    bool                            // leave ui.enabled false
	// healthGate turns on health.storagedriver (threshold 1, checked
	// every 20 ms, by the server's background jobs): failing storage
	// turns the API off with 503.
	healthGate bool
}

func localhost(u string) string { return strings.Replace(u, "127.0.0.1", "localhost", 1) }

func newStack(t *testing.T, o stackOptions) *stack {
	t.Helper()
	dir := t.TempDir()
	cfg, err := regconfig.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Storage.Filesystem.RootDirectory = filepath.Join(dir, "data")
	cfg.Storage.Delete.Enabled = true
	cfg.UI.Enabled = !o.uiOff
	cfg.HTTP.Prefix = o.prefix
	if o.healthGate {
		cfg.Health.StorageDriver = regconfig.StorageDriverHealth{Enabled: true, Interval: regconfig.D(20 * time.Millisecond), Threshold: 1}
	}
	s := &stack{root: cfg.Storage.Filesystem.RootDirectory}
	switch o.mode {
	case "", "token":
		kp := authtest.WriteKeyPair(t, dir, "server", "rsa")
		yml := authtest.SeedConfig(t, kp.Cert, kp.Key)
		if o.authYAML != nil {
			yml = o.authYAML(yml)
		}
		path := filepath.Join(dir, "auth_config.yml")
		authtest.WriteFile(t, path, yml)
		as, err := authserver.New(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		s.authSrv, s.authYAML = as, path
		h := as.Handler()
		if o.realm != nil {
			h = o.realm(h)
		}
		s.auth = httptest.NewServer(h)
		t.Cleanup(s.auth.Close)
		cfg.Auth.Token = &regconfig.TokenAuth{Realm: localhost(s.auth.URL) + "/auth", Service: "Docker registry",
			Issuer: "Auth Service", RootCertBundle: kp.Cert}
	case "htpasswd":
		var lines []string
		for _, a := range []account{admin, reader} {
			hash, err := bcrypt.GenerateFromPassword([]byte(a.password), bcrypt.MinCost)
			if err != nil {
				t.Fatal(err)
			}
			lines = append(lines, a.user+":"+string(hash))
		}
		path := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg.Auth.Htpasswd = &regconfig.HtpasswdAuth{Realm: "registry", Path: path}
	}
	store, err := storage.NewFilesystem(cfg.Storage.Filesystem.RootDirectory, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := regserver.New(cfg, store, slog.New(slog.NewTextHandler(testWriter{t}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if o.healthGate {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = srv.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	if o.tls {
		s.reg = httptest.NewTLSServer(srv.Handler())
	} else {
		s.reg = httptest.NewServer(srv.Handler())
	}
	t.Cleanup(s.reg.Close)
	u := localhost(s.reg.URL)
	if o.tls {
		u = s.reg.URL // the test certificate names 127.0.0.1, not localhost
	}
	s.base = u + strings.TrimSuffix(o.prefix, "/") + "/ui"
	s.host = strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://")
	return s
}

// testWriter sends the registry's log lines that mention the UI to the
// test log, where a failure shows them.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("ui:")) {
		w.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

// browser is a plain HTTP client with cookies that does not follow
// redirects, so each answer can be looked at.
type browser struct {
	t    *testing.T
	c    *http.Client
	base string
}

func (s *stack) browser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := *s.reg.Client() // a copy: trusts the test TLS certificate, has its own jar
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{t: t, c: &c, base: s.base}
}

func (b *browser) get(path string) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.c.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp, readBody(b.t, resp)
}

func (b *browser) post(path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.c.PostForm(b.base+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp, readBody(b.t, resp)
}

// login logs in and fails the test unless the UI redirects to its start.
func (b *browser) login(a account) {
	b.t.Helper()
	resp, body := b.post("/login", url.Values{"username": {a.user}, "password": {a.password}})
	if resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("login as %s: status %d, want 303\n%s", a.user, resp.StatusCode, body)
	}
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrfOf returns the CSRF token of the first form in a page.
func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf field in the page:\n%s", page)
	}
	return m[1]
}
