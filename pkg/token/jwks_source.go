package token

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for NewJWKSSource.
const (
	DefaultJWKSInterval   = 5 * time.Minute
	DefaultJWKSMinRefetch = 30 * time.Second
	jwksFetchTimeout      = 10 * time.Second
)

// JWKSSource is a KeySource reading a JWKS from a file or an http(s) URL.
//
// Once in use it reloads the set every interval in the background, so a key
// withdrawn from the JWKS stops verifying at the next reload, and it never
// makes a lookup wait for a reload: a kid in the current set is answered at
// once, however slow or hung the JWKS server is. Only a kid missing from
// the set waits, for one fetch shared by every such caller (single flight)
// and made at most once per minRefetch, so a stream of tokens with made-up
// kids cannot turn the registry into a request amplifier. A failed reload
// keeps the last good set. Generation tells the Verifier when the set has
// changed, so cached verifications never outlive their key.
//
// It is safe for concurrent use. Close stops the background reloads.
type JWKSSource struct {
	location   string
	isURL      bool
	client     *http.Client
	interval   time.Duration
	minRefetch time.Duration
	now        func() time.Time                     // time.Now; tests move it
	after      func(time.Duration) <-chan time.Time // time.After; tests tick by hand

	set atomic.Pointer[keySet] // nil until the first good load

	mu        sync.Mutex // guards the fields below; never held while fetching
	attempted time.Time  // start of the last fetch
	inflight  *fetchCall // the fetch running now, if any
	started   bool       // the reload loop runs
	stop      chan struct{}
}

// keySet is one loaded JWKS, every key indexed under its published kid and
// both computed forms.
type keySet struct {
	keys map[string]crypto.PublicKey
	gen  uint64 // bumped whenever a load changes the keys
}

// fetchCall is one fetch that concurrent callers share.
type fetchCall struct {
	done chan struct{}
	err  error
}

// errRateLimited is why an unknown kid did not cause a fetch.
var errRateLimited = errors.New("jwks: fetched less than minRefetch ago")

// NewJWKSSource returns a JWKSSource for location, a file path (or file://
// URL) or an http:// or https:// URL. client may be nil for a default client
// with a timeout; interval and minRefetch <= 0 take DefaultJWKSInterval and
// DefaultJWKSMinRefetch. A file is loaded now and must parse; a URL is
// fetched on first use, so the registry may start before the token server
// (call Refresh to probe it at startup). Whether plain http:// is
// acceptable is the caller's decision (the registry's config refuses it
// unless told).
func NewJWKSSource(location string, client *http.Client, interval, minRefetch time.Duration) (*JWKSSource, error) {
	s := &JWKSSource{location: location, client: client, interval: interval, minRefetch: minRefetch,
		now: time.Now, after: time.After, stop: make(chan struct{})}
	if s.interval <= 0 {
		s.interval = DefaultJWKSInterval
	}
	if s.minRefetch <= 0 {
		s.minRefetch = DefaultJWKSMinRefetch
	}
	if s.client == nil {
		s.client = &http.Client{Timeout: jwksFetchTimeout}
	}
	switch u, err := url.Parse(location); {
	case location == "":
		return nil, errors.New("jwks: empty location")
	case err == nil && (u.Scheme == "http" || u.Scheme == "https"):
		if u.Host == "" {
			return nil, fmt.Errorf("jwks: URL %q has no host", location)
		}
		s.isURL = true
		return s, nil
	case err == nil && u.Scheme == "file":
		s.location = u.Path
	case err == nil && u.Scheme != "" && len(u.Scheme) > 1:
		// One letter is a Windows drive; anything longer is a scheme we lack.
		return nil, fmt.Errorf("jwks: unsupported URL scheme %q", u.Scheme)
	}
	if err := s.fetch(context.Background(), true); err != nil {
		return nil, err
	}
	return s, nil
}

// Key returns the key for kid: from the current set at once, else (rate
// limited) after fetching the set again.
func (s *JWKSSource) Key(ctx context.Context, kid string) (crypto.PublicKey, bool) {
	s.startReloads()
	if pub, ok := s.lookup(kid); ok {
		return pub, true
	}
	if err := s.fetch(ctx, false); err != nil {
		return nil, false
	}
	return s.lookup(kid)
}

// Refresh loads the set now, regardless of rate limits (joining a fetch
// already running), and reports why it failed. The last good set stays in
// use on failure.
func (s *JWKSSource) Refresh(ctx context.Context) error {
	s.startReloads()
	return s.fetch(ctx, true)
}

// Generation identifies the current set: it changes whenever a reload
// changes the keys (0 before the first load).
func (s *JWKSSource) Generation() uint64 {
	if set := s.set.Load(); set != nil {
		return set.gen
	}
	return 0
}

// Close stops the background reloads. Lookups still work, from the last set
// and by fetching for unknown kids.
func (s *JWKSSource) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
}

func (s *JWKSSource) lookup(kid string) (crypto.PublicKey, bool) {
	set := s.set.Load()
	if set == nil {
		return nil, false
	}
	pub, ok := set.keys[kid]
	return pub, ok
}

// startReloads starts the reload loop on first use, so a source nobody
// asks has no goroutine.
func (s *JWKSSource) startReloads() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return
	}
	s.started = true
	go func() {
		for {
			select {
			case <-s.stop:
				return
			case <-s.after(s.interval):
				_ = s.fetch(context.Background(), true)
			}
		}
	}()
}

// fetch loads the set, sharing a fetch already running. Unless force, it
// does not start one within minRefetch of the last. The load runs on its
// own goroutine, outside s.mu: a caller whose ctx ends stops waiting, and
// the result still serves everyone else.
func (s *JWKSSource) fetch(ctx context.Context, force bool) error {
	s.mu.Lock()
	c := s.inflight
	if c == nil {
		if !force && !s.attempted.IsZero() && s.now().Sub(s.attempted) < s.minRefetch {
			s.mu.Unlock()
			return errRateLimited
		}
		c = &fetchCall{done: make(chan struct{})}
		s.inflight, s.attempted = c, s.now()
		go func() {
			err := s.load(context.WithoutCancel(ctx))
			s.mu.Lock()
			s.inflight = nil
			c.err = err
			s.mu.Unlock()
			close(c.done)
		}()
	}
	s.mu.Unlock()
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// load reads, parses and installs the set.
func (s *JWKSSource) load(ctx context.Context) error {
	data, err := s.read(ctx)
	if err != nil {
		return fmt.Errorf("jwks %s: %w", s.location, err)
	}
	keys, err := ParseJWKS(data)
	if err != nil {
		return fmt.Errorf("%s: %w", s.location, err)
	}
	// Index every key under both computed forms as well, so a token whose
	// kid is a libtrust id or thumbprint finds a key published under a
	// custom kid. Published kids win over computed ones.
	all := make(map[string]crypto.PublicKey, 3*len(keys))
	for _, pub := range keys {
		for _, id := range computedIDs(pub) {
			all[id] = pub
		}
	}
	for kid, pub := range keys {
		all[kid] = pub
	}
	next := &keySet{keys: all, gen: 1}
	if old := s.set.Load(); old != nil {
		next.gen = old.gen
		if !sameKeys(old.keys, all) {
			next.gen++
		}
	}
	s.set.Store(next) // only the fetch in flight stores: no lost update
	return nil
}

// sameKeys reports whether two indexed sets hold the same keys by kid.
func sameKeys(a, b map[string]crypto.PublicKey) bool {
	if len(a) != len(b) {
		return false
	}
	for kid, pub := range a {
		if other, ok := b[kid]; !ok || !keysEqual(pub, other) {
			return false
		}
	}
	return true
}

// read returns the raw document, at most maxJWKSSize bytes.
func (s *JWKSSource) read(ctx context.Context) ([]byte, error) {
	var body io.Reader
	if !s.isURL {
		f, err := os.Open(s.location)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		body = f
	} else {
		// The fetch outlives a cancelled caller: its result serves everyone.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), jwksFetchTimeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.location, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/jwk-set+json, application/json")
		resp, err := s.client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET: status %s", strings.TrimSpace(resp.Status))
		}
		body = resp.Body
	}
	data, err := io.ReadAll(io.LimitReader(body, maxJWKSSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxJWKSSize {
		return nil, fmt.Errorf("larger than %d bytes", maxJWKSSize)
	}
	return data, nil
}
