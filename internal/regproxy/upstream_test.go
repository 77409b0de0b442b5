package regproxy_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wharf-registry/wharf/internal/regconfig"
	"github.com/wharf-registry/wharf/internal/regproxy"
	"github.com/wharf-registry/wharf/internal/regserver"
	"github.com/wharf-registry/wharf/pkg/storage"
)

// An upstream here is our own registry (regserver over a temp dir),
// reached directly to push and through a guard that plays the upstream's
// authentication or failure under test.

// newRegistry serves a registry (regserver over a temp dir) with the
// image defaults and whatever edit changes, and returns its handler, its
// store and the host:port it listens on.
func newRegistry(t *testing.T, edit func(*regconfig.Config)) (http.Handler, *storage.Store, string) {
	t.Helper()
	cfg, err := regconfig.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	cfg.Storage.Filesystem.RootDirectory = root
	if edit != nil {
		edit(cfg)
	}
	store, err := storage.NewFilesystem(root, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := regserver.New(cfg, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return srv.Handler(), store, strings.TrimPrefix(ts.URL, "http://")
}

// upstreamRegistry is a plain registry: its handler and the host to push to.
func upstreamRegistry(t *testing.T) (http.Handler, string) {
	t.Helper()
	h, _, host := newRegistry(t, nil)
	return h, host
}

// pushRandom pushes a random image to host/repo:tag.
func pushRandom(t *testing.T, host, repoTag string) {
	t.Helper()
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
}

// newCache is a cache of one upstream on prefix "up" over a temp dir.
func newCache(t *testing.T, remoteURL, user, password string, ttl time.Duration) (*regproxy.Proxy, *storage.Store) {
	t.Helper()
	store, err := storage.NewFilesystem(t.TempDir(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := regconfig.D(ttl)
	p := regproxy.New([]regconfig.ProxyEntry{{Prefix: "up", Proxy: regconfig.Proxy{
		RemoteURL: remoteURL, Username: user, Password: password, TTL: &d}}},
		store, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	return p, store
}

// wantError checks err is the cache's error with status and code, and
// that its message names the upstream.
func wantError(t *testing.T, err error, status int, code, upstream string) *regproxy.Error {
	t.Helper()
	var e *regproxy.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v, want a *regproxy.Error %d %s", err, status, code)
	}
	if e.Status != status || e.Code != code || !strings.Contains(e.Message, upstream) {
		t.Errorf("error %v, want %d %s naming %s", e, status, code, upstream)
	}
	return e
}

// The token flow with credentials: a token is fetched once and reused
// until its expires_in has passed, then fetched again.
func TestUpstreamTokensAreReusedForTheirExpiresIn(t *testing.T) {
	h, host := upstreamRegistry(t)
	pushRandom(t, host, "app:1")
	var issued atomic.Int32
	var mu sync.Mutex
	valid := map[string]bool{}
	var guard *httptest.Server
	guard = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			if u, p, ok := r.BasicAuth(); !ok || u != "bot" || p != "pw" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			if r.URL.Query().Get("scope") != "repository:app:pull" || r.URL.Query().Get("service") != "up-svc" {
				http.Error(w, "bad scope or service "+r.URL.RawQuery, http.StatusBadRequest)
				return
			}
			tok := fmt.Sprintf("tok-%d", issued.Add(1))
			mu.Lock()
			valid[tok] = true
			mu.Unlock()
			fmt.Fprintf(w, `{"token":%q,"expires_in":300}`, tok)
			return
		}
		mu.Lock()
		ok := valid[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
		mu.Unlock()
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+guard.URL+`/token",service="up-svc",scope="repository:app:pull"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(guard.Close)

	now := time.Now()
	p, _ := newCache(t, guard.URL, "bot", "pw", 0) // ttl 0: every tag pull asks upstream
	p.SetClock(func() time.Time { return now })
	ctx := context.Background()
	for i := range 3 {
		if _, err := p.Manifest(ctx, "up/app", "1"); err != nil {
			t.Fatalf("pull %d: %v", i, err)
		}
	}
	if n := issued.Load(); n != 1 {
		t.Errorf("three pulls within the token's life fetched %d tokens, want 1", n)
	}
	now = now.Add(301 * time.Second)
	if _, err := p.Manifest(ctx, "up/app", "1"); err != nil {
		t.Fatal(err)
	}
	if n := issued.Load(); n != 2 {
		t.Errorf("a pull after expires_in fetched %d tokens in all, want 2", n)
	}

	wrong, _ := newCache(t, guard.URL, "bot", "wrong", time.Hour)
	_, err := wrong.Manifest(ctx, "up/app", "1")
	wantError(t, err, http.StatusUnauthorized, regproxy.CodeUnauthorized, guard.URL)
}

// Basic auth: the configured credentials answer a Basic challenge; without
// any, the error says the upstream wants them.
func TestUpstreamBasicAuthUsesTheCredentials(t *testing.T) {
	h, host := upstreamRegistry(t)
	pushRandom(t, host, "app:1")
	guard := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "bot" || p != "pw" {
			w.Header().Set("WWW-Authenticate", `Basic realm="upstream"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(guard.Close)
	ctx := context.Background()
	p, _ := newCache(t, guard.URL, "bot", "pw", time.Hour)
	if _, err := p.Manifest(ctx, "up/app", "1"); err != nil {
		t.Fatal(err)
	}
	anon, _ := newCache(t, guard.URL, "", "", time.Hour)
	_, err := anon.Manifest(ctx, "up/app", "1")
	wantError(t, err, http.StatusUnauthorized, regproxy.CodeUnauthorized, guard.URL)
}

// What the upstream answers becomes the client's answer, naming the
// upstream: 404 unknown, 401/403 UNAUTHORIZED, 429 with Retry-After, other
// failures 503.
func TestUpstreamAnswersMapToOCIErrors(t *testing.T) {
	tests := []struct {
		upstream   int
		retryAfter string
		status     int
		code       string
	}{
		{http.StatusNotFound, "", http.StatusNotFound, regproxy.CodeManifestUnknown},
		{http.StatusForbidden, "", http.StatusUnauthorized, regproxy.CodeUnauthorized},
		{http.StatusTooManyRequests, "7", http.StatusTooManyRequests, regproxy.CodeTooManyRequests},
		{http.StatusInternalServerError, "", http.StatusServiceUnavailable, regproxy.CodeUnavailable},
		{http.StatusBadGateway, "", http.StatusServiceUnavailable, regproxy.CodeUnavailable},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.upstream), func(t *testing.T) {
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.WriteHeader(tt.upstream)
			}))
			t.Cleanup(up.Close)
			p, _ := newCache(t, up.URL, "", "", time.Hour)
			_, err := p.Manifest(context.Background(), "up/app", "1")
			e := wantError(t, err, tt.status, tt.code, up.URL)
			if got := e.Header.Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, tt.retryAfter)
			}
		})
	}
}

// An upstream that accepts the connection and never answers is a 503
// once the response-header timeout passes, not a hang.
func TestSlowUpstreamIsA503(t *testing.T) {
	up := hangingUpstream(t, func(http.ResponseWriter) {})
	p, _ := newCache(t, up.URL, "", "", time.Hour)
	p.SetResponseHeaderTimeout(200 * time.Millisecond)
	done := make(chan error, 1)
	go func() {
		_, err := p.Manifest(context.Background(), "up/app", "1")
		done <- err
	}()
	select {
	case err := <-done:
		wantError(t, err, http.StatusServiceUnavailable, regproxy.CodeUnavailable, up.URL)
	case <-time.After(20 * time.Second):
		t.Fatal("the cache still waits for an upstream that never answers")
	}
}

// hangingUpstream answers every request with what start writes, then
// sends nothing more until the client goes away or the test ends.
func hangingUpstream(t *testing.T, start func(http.ResponseWriter)) *httptest.Server {
	t.Helper()
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start(w)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(up.Close)
	t.Cleanup(func() { close(release) })
	return up
}
