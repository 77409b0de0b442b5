package regproxy_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/internal/regconfig"
	"github.com/wharf-registry/wharf/internal/regproxy"
	"github.com/wharf-registry/wharf/internal/testkit"
	"github.com/wharf-registry/wharf/pkg/storage"
)

// TTL expiry: a tag not confirmed for a whole TTL is deleted, and garbage
// collection (deleteuntagged) then removes what it held.
func TestExpiredTagsLeaveTheCacheAtGarbageCollection(t *testing.T) {
	h, host := upstreamRegistry(t)
	pushRandom(t, host, "app:1")
	up := httptest.NewServer(h)
	t.Cleanup(up.Close)
	p, store := newCache(t, up.URL, "", "", time.Hour)
	ctx := context.Background()
	if _, err := p.Manifest(ctx, "up/app", "1"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	p.SetClock(func() time.Time { return start.Add(30 * time.Minute) })
	if n, err := p.Expire(ctx); err != nil || n != 0 {
		t.Fatalf("within the TTL: expired %d (%v), want 0", n, err)
	}
	p.SetClock(func() time.Time { return start.Add(2 * time.Hour) })
	if n, err := p.Expire(ctx); err != nil || n != 1 {
		t.Fatalf("past the TTL: expired %d (%v), want 1", n, err)
	}
	if _, err := store.GetManifest(ctx, "up/app", "1"); !errors.Is(err, storage.ErrManifestUnknown) {
		t.Errorf("expired tag still resolves: %v", err)
	}
	res, err := store.GarbageCollect(ctx, storage.GCOptions{DeleteUntagged: true, GracePeriod: -1})
	if err != nil || res.ManifestsDeleted != 1 {
		t.Errorf("gc after expiry: %+v, %v; want the manifest deleted", res, err)
	}
}

// A blob whose bytes do not match its digest is never cached, and the
// client that was streamed those bytes sees its response broken off.
func TestBlobNotMatchingItsDigestIsNeverCached(t *testing.T) {
	good := strings.Repeat("the right bytes ", 4096)
	sum := sha256.Sum256([]byte(good))
	d := digest.Digest("sha256:" + hex.EncodeToString(sum[:]))
	bad := strings.Repeat("the wrong bytes ", 4096)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "65536")
		_, _ = io.WriteString(w, bad)
	}))
	t.Cleanup(up.Close)

	ttl := regconfig.D(time.Hour)
	_, store, cache := newRegistry(t, func(cfg *regconfig.Config) {
		cfg.Proxies = []regconfig.ProxyEntry{{Prefix: "up", Proxy: regconfig.Proxy{RemoteURL: up.URL, TTL: &ttl}}}
	})

	resp, err := http.Get("http://" + cache + "/v2/up/app/blobs/" + d.String())
	if err == nil {
		body, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		if rerr == nil && string(body) == bad {
			t.Error("the client got the whole wrong body as a complete response")
		}
	}
	if _, err := store.StatBlob(context.Background(), "up/app", d); !errors.Is(err, storage.ErrBlobUnknown) {
		t.Errorf("a blob with the wrong content is cached: %v", err)
	}
}

// An upstream that stops sending in the middle of a blob ends the fetch
// once it has been idle too long: the client's response is broken off and
// nothing is cached.
func TestStalledBlobFetchIsAbandoned(t *testing.T) {
	d := digest.FromString("never sent in full")
	up := hangingUpstream(t, func(w http.ResponseWriter) {
		w.Header().Set("Content-Length", "1000")
		_, _ = io.WriteString(w, "half")
		w.(http.Flusher).Flush()
	})
	p, store := newCache(t, up.URL, "", "", time.Hour)
	p.SetBlobIdleTimeout(200 * time.Millisecond)

	done := make(chan any, 1)
	go func() {
		defer func() { done <- recover() }()
		req := httptest.NewRequest(http.MethodGet, "/v2/up/app/blobs/"+d.String(), nil)
		_, err := p.ServeBlob(httptest.NewRecorder(), req, "up/app", d)
		t.Errorf("ServeBlob returned (%v) instead of breaking the response", err)
	}()
	select {
	case got := <-done:
		if got != http.ErrAbortHandler {
			t.Errorf("ServeBlob panicked with %v, want http.ErrAbortHandler", got)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the fetch still waits for an upstream that stopped sending")
	}
	if _, err := store.StatBlob(context.Background(), "up/app", d); !errors.Is(err, storage.ErrBlobUnknown) {
		t.Errorf("a partial blob is cached: %v", err)
	}
}

// A tag deleted upstream is still served until its TTL has passed; then
// the HEAD's 404 is the answer and the cached tag goes.
func TestTagDeletedUpstreamGoesAfterItsTTL(t *testing.T) {
	h, host := upstreamRegistry(t)
	pushRandom(t, host, "app:1")
	var gone atomic.Bool
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if gone.Load() && strings.Contains(r.URL.Path, "/manifests/") {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(up.Close)
	p, store := newCache(t, up.URL, "", "", time.Hour)
	ctx := context.Background()
	if _, err := p.Manifest(ctx, "up/app", "1"); err != nil {
		t.Fatal(err)
	}
	gone.Store(true)
	start := time.Now()
	p.SetClock(func() time.Time { return start.Add(59 * time.Minute) })
	if _, err := p.Manifest(ctx, "up/app", "1"); err != nil {
		t.Fatalf("within the TTL: %v, want the cached tag", err)
	}
	p.SetClock(func() time.Time { return start.Add(61 * time.Minute) })
	_, err := p.Manifest(ctx, "up/app", "1")
	wantError(t, err, http.StatusNotFound, regproxy.CodeManifestUnknown, up.URL)
	if _, _, err := store.TagTime(ctx, "up/app", "1"); !errors.Is(err, storage.ErrManifestUnknown) {
		t.Errorf("the tag the upstream deleted is still cached: %v", err)
	}
}

// A blob whose stored copy cannot be committed is still served whole to
// its client, whose bytes were verified on the way; it is not cached, the
// failure is counted, and the next pull fetches it again.
func TestBlobThatCannotBeStoredIsServedButNotCached(t *testing.T) {
	blob := strings.Repeat("verified bytes, not cached ", 100_000)
	sum := sha256.Sum256([]byte(blob))
	d := digest.Digest("sha256:" + hex.EncodeToString(sum[:]))
	var gets atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gets.Add(1)
		w.Header().Set("Content-Length", strconv.Itoa(len(blob)))
		_, _ = io.WriteString(w, blob)
	}))
	t.Cleanup(up.Close)
	ttl := regconfig.D(time.Hour)
	root := ""
	_, store, cache := newRegistry(t, func(cfg *regconfig.Config) {
		root = cfg.Storage.Filesystem.RootDirectory
		cfg.Proxies = []regconfig.ProxyEntry{{Prefix: "up", Proxy: regconfig.Proxy{RemoteURL: up.URL, TTL: &ttl}}}
	})
	// A file where the blob's directory should go: the commit's rename
	// into blobs/ fails.
	blocker := filepath.Join(root, "docker/registry/v2/blobs/sha256", d.Encoded()[:2])
	if err := os.MkdirAll(filepath.Dir(blocker), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	for i := 1; i <= 2; i++ {
		resp, err := http.Get("http://" + cache + "/v2/up/app/blobs/" + d.String())
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || string(got) != blob {
			t.Fatalf("pull %d: status %d, %d bytes, %v; want the blob", i, resp.StatusCode, len(got), err)
		}
		// The commit ends after the response: wait for its verdict.
		waitFor(t, func() bool {
			return testkit.Metric(t, "http://"+cache+"/metrics", "registry_proxy_store_errors_total") == float64(i)
		})
		if _, err := store.StatBlob(context.Background(), "up/app", d); !errors.Is(err, storage.ErrBlobUnknown) {
			t.Fatalf("pull %d: a blob that could not be committed is in the cache: %v", i, err)
		}
	}
	if n := gets.Load(); n != 2 {
		t.Errorf("upstream GETs = %d, want 2: nothing was cached", n)
	}
}

// waitFor polls cond for up to 20 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 20 s")
		}
	}
}
