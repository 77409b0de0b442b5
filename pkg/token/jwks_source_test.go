package token

// These tests live inside the package to move JWKSSource's clock; the
// server, the client and the JWKS documents are all real.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// jwksServer serves whatever document it holds and counts requests.
type jwksServer struct {
	*httptest.Server
	doc      atomic.Pointer[[]byte]
	status   atomic.Int32
	requests atomic.Int32
	gate     atomic.Pointer[chan struct{}] // when set, answers wait for it to close
}

func newJWKSServer(t *testing.T) *jwksServer {
	s := &jwksServer{}
	s.status.Store(http.StatusOK)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if gate := s.gate.Load(); gate != nil {
			select {
			case <-*gate:
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(int(s.status.Load()))
		if doc := s.doc.Load(); doc != nil {
			_, _ = w.Write(*doc)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) publish(t *testing.T, keys ...*Key) {
	t.Helper()
	data, err := MarshalJWKS(keys)
	if err != nil {
		t.Fatal(err)
	}
	s.doc.Store(&data)
}

func newECKey(t *testing.T) *Key {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := NewKey(priv, nil, KeyIDThumbprint)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// fakeClock is a time source tests move by hand.
type fakeClock struct{ offset atomic.Int64 }

func (c *fakeClock) now() time.Time {
	return time.Unix(1_900_000_000, 0).Add(time.Duration(c.offset.Load()))
}
func (c *fakeClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// manualTicker stands in for time.After in a source's reload loop, so a
// test decides when the interval has passed.
type manualTicker struct{ timers chan chan time.Time }

func newManualTicker() *manualTicker { return &manualTicker{timers: make(chan chan time.Time, 1)} }

func (m *manualTicker) after(time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	m.timers <- ch
	return ch
}

// tick ends the interval the loop is waiting for and returns once the
// reload it starts has finished (the loop asks for its next timer after).
func (m *manualTicker) tick() {
	(<-m.timers) <- time.Time{}
	m.timers <- <-m.timers
}

// tickNoWait ends the interval without waiting for the reload.
func (m *manualTicker) tickNoWait() { (<-m.timers) <- time.Time{} }

func newURLSource(t *testing.T, srv *jwksServer, clock *fakeClock) *JWKSSource {
	src, _ := newTickedURLSource(t, srv, clock)
	return src
}

// newTickedURLSource returns a source whose clock and reload loop the test
// drives.
func newTickedURLSource(t *testing.T, srv *jwksServer, clock *fakeClock) (*JWKSSource, *manualTicker) {
	t.Helper()
	src, err := NewJWKSSource(srv.URL+"/.well-known/jwks.json", srv.Client(), time.Hour, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ticker := newManualTicker()
	src.now, src.after = clock.now, ticker.after
	t.Cleanup(src.Close)
	return src, ticker
}

func TestJWKSSourceRefetchesUnknownKidsAtMostOncePerMinRefetch(t *testing.T) {
	ctx := context.Background()
	srv := newJWKSServer(t)
	a, b, c := newECKey(t), newECKey(t), newECKey(t)
	srv.publish(t, a)
	clock := &fakeClock{}
	src, ticker := newTickedURLSource(t, srv, clock)
	if n := srv.requests.Load(); n != 0 {
		t.Fatalf("a URL source fetched %d times before first use", n)
	}

	steps := []struct {
		name     string
		before   func()
		kid      string
		want     *Key // nil: not found
		requests int32
	}{
		{"first use fetches", nil, a.ID, a, 1},
		{"known kid does not fetch", nil, a.ID, a, 1},
		{"unknown kid within minRefetch of the last fetch does not fetch", func() { srv.publish(t, a, b) }, b.ID, nil, 1},
		{"unknown kid after minRefetch fetches once", func() { clock.advance(time.Minute) }, b.ID, b, 2},
		{"second unknown kid within minRefetch does not fetch", nil, c.ID, nil, 2},
		{"the same unknown kid again does not fetch", nil, "made-up", nil, 2},
		{"the set is reloaded every interval", func() { srv.publish(t, c); clock.advance(time.Hour); ticker.tick() }, c.ID, c, 3},
		{"a reload drops withdrawn keys", func() { clock.advance(time.Minute) }, a.ID, nil, 4},
		{"a failed reload keeps the last good set", func() { srv.status.Store(http.StatusInternalServerError); clock.advance(time.Hour); ticker.tick() }, c.ID, c, 5},
		{"failed reloads are rate limited too", nil, "another-made-up", nil, 5},
		{"garbage keeps the last good set", func() {
			srv.status.Store(http.StatusOK)
			garbage := []byte(`{"keys":[{"kty":"EC","d":"secret"}]}`)
			srv.doc.Store(&garbage)
			clock.advance(time.Minute)
			ticker.tick()
		}, c.ID, c, 6},
	}
	for _, st := range steps {
		if st.before != nil {
			st.before()
		}
		pub, ok := src.Key(ctx, st.kid)
		switch {
		case st.want == nil && ok:
			t.Fatalf("%s: found a key for %s", st.name, st.kid)
		case st.want != nil && (!ok || !keysEqual(pub, st.want.Public())):
			t.Fatalf("%s: key for %s not found (ok=%v)", st.name, st.kid, ok)
		}
		if n := srv.requests.Load(); n != st.requests {
			t.Fatalf("%s: %d requests so far, want %d", st.name, n, st.requests)
		}
	}
}

func TestJWKSSourceIndexesComputedKids(t *testing.T) {
	srv := newJWKSServer(t)
	k := newECKey(t) // published under its thumbprint
	srv.publish(t, k)
	src := newURLSource(t, srv, &fakeClock{})
	lt, err := LibtrustKeyID(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	if pub, ok := src.Key(context.Background(), lt); !ok || !keysEqual(pub, k.Public()) {
		t.Fatal("key not found under its libtrust kid")
	}
}

func TestJWKSSourceFetchesOnceForConcurrentUnknownKids(t *testing.T) {
	srv := newJWKSServer(t)
	srv.publish(t, newECKey(t))
	src := newURLSource(t, srv, &fakeClock{})
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			src.Key(context.Background(), strings.Repeat("x", i+1))
		}()
	}
	wg.Wait()
	if n := srv.requests.Load(); n != 1 {
		t.Fatalf("%d requests for 16 concurrent lookups, want 1", n)
	}
}

func TestJWKSSourceFromFile(t *testing.T) {
	dir := t.TempDir()
	k := newECKey(t)
	data, err := MarshalJWKS([]*Key{k})
	if err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(good, data, 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, loc := range []string{good, "file://" + good} {
		t.Run(loc, func(t *testing.T) {
			src, err := NewJWKSSource(loc, nil, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := src.Key(context.Background(), k.ID); !ok {
				t.Fatal("key from file not found")
			}
		})
	}
	for name, loc := range map[string]string{
		"missing file":     filepath.Join(dir, "absent.json"),
		"invalid JWKS":     bad,
		"empty location":   "",
		"odd scheme":       "ftp://example.com/jwks.json",
		"URL without host": "https:///jwks.json",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewJWKSSource(loc, nil, 0, 0)
			if err == nil {
				t.Fatal("NewJWKSSource accepted it")
			}
			if loc != "" && !strings.Contains(err.Error(), loc) && !strings.Contains(err.Error(), "scheme") && !strings.Contains(err.Error(), "host") {
				t.Fatalf("error %q does not name %s", err, loc)
			}
		})
	}
}

func TestJWKSSourceRejectsOversizeDocuments(t *testing.T) {
	srv := newJWKSServer(t)
	huge := []byte(`{"keys":[],"pad":"` + strings.Repeat("x", maxJWKSSize) + `"}`)
	srv.doc.Store(&huge)
	src := newURLSource(t, srv, &fakeClock{})
	if err := src.Refresh(context.Background()); err == nil || !strings.Contains(err.Error(), "larger") {
		t.Fatalf("Refresh = %v, want a size error", err)
	}
}
