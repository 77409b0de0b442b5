package testkit

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// CountingProxy is a reverse proxy in front of an upstream registry that
// counts the registry requests it passes on ("GET manifests", "HEAD
// blobs"...), so a test can tell what a pull-through cache asked the
// upstream.
type CountingProxy struct {
	srv *httptest.Server
	mu  sync.Mutex
	n   map[string]int
}

// NewCountingProxy starts a counting proxy to target (a base URL) on a
// loopback port; it stops when the test ends.
func NewCountingProxy(t testing.TB, target string) *CountingProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	c := &CountingProxy{n: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(u)
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind := "other"
		for _, k := range []string{"/manifests/", "/blobs/"} {
			if strings.Contains(r.URL.Path, k) {
				kind = strings.Trim(k, "/")
			}
		}
		c.mu.Lock()
		c.n[r.Method+" "+kind]++
		c.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// URL is the address the cache is given as its upstream.
func (c *CountingProxy) URL() string { return c.srv.URL }

// Counts returns a copy of the counts so far.
func (c *CountingProxy) Counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.n))
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

// Total is the number of manifest and blob requests so far.
func (c *CountingProxy) Total() int {
	n := 0
	for k, v := range c.Counts() {
		if !strings.HasSuffix(k, " other") {
			n += v
		}
	}
	return n
}

// Close stops the proxy now, as an upstream going down would: the cache's
// requests then fail to connect.
func (c *CountingProxy) Close() { c.srv.Close() }
