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
// Refreshing is lazy, on the lookup path: the set is reloaded when it is
// older than the interval, and an unknown kid triggers a reload at most once
// per minRefetch, so a stream of tokens with made-up kids cannot turn the
// registry into a request amplifier. A failed reload keeps the last good set.
// It is safe for concurrent use.
type JWKSSource struct {
	location   string
	isURL      bool
	client     *http.Client
	interval   time.Duration
	minRefetch time.Duration
	now        func() time.Time // time.Now; tests move it

	keys atomic.Pointer[map[string]crypto.PublicKey] // nil until the first good load

	mu        sync.Mutex // serialises reloads and guards the times below
	loaded    time.Time  // last successful load
	attempted time.Time  // last load attempt
}

// NewJWKSSource returns a JWKSSource for location, a file path (or file://
// URL) or an http:// or https:// URL. client may be nil for a default client
// with a timeout; interval and minRefetch <= 0 take DefaultJWKSInterval and
// DefaultJWKSMinRefetch. A file is loaded now and must parse; a URL is
// fetched on first use, so the registry may start before the token server
// (call Refresh to probe it at startup).
func NewJWKSSource(location string, client *http.Client, interval, minRefetch time.Duration) (*JWKSSource, error) {
	s := &JWKSSource{location: location, client: client, interval: interval, minRefetch: minRefetch, now: time.Now}
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
	if err := s.Refresh(context.Background()); err != nil {
		return nil, err
	}
	return s, nil
}

// Key returns the key for kid, reloading the set when it is stale or, rate
// limited, when kid is unknown.
func (s *JWKSSource) Key(ctx context.Context, kid string) (crypto.PublicKey, bool) {
	if s.stale() {
		s.reload(ctx, false)
	}
	if pub, ok := s.lookup(kid); ok {
		return pub, true
	}
	if !s.reload(ctx, true) {
		return nil, false
	}
	return s.lookup(kid)
}

// Refresh loads the set now, regardless of rate limits, and reports why it
// failed. The last good set stays in use on failure.
func (s *JWKSSource) Refresh(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loadLocked(ctx)
}

func (s *JWKSSource) lookup(kid string) (crypto.PublicKey, bool) {
	m := s.keys.Load()
	if m == nil {
		return nil, false
	}
	pub, ok := (*m)[kid]
	return pub, ok
}

func (s *JWKSSource) stale() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loaded.IsZero() || s.now().Sub(s.loaded) >= s.interval
}

// reload loads the set unless an attempt was made within minRefetch (or,
// when !unknownKid, unless another caller already refreshed it). It reports
// whether a load succeeded.
func (s *JWKSSource) reload(ctx context.Context, unknownKid bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !unknownKid && !s.loaded.IsZero() && s.now().Sub(s.loaded) < s.interval {
		return false // refreshed by a concurrent caller
	}
	if !s.attempted.IsZero() && s.now().Sub(s.attempted) < s.minRefetch {
		return false
	}
	return s.loadLocked(ctx) == nil
}

// loadLocked reads, parses and installs the set; s.mu is held.
func (s *JWKSSource) loadLocked(ctx context.Context) error {
	s.attempted = s.now()
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
	s.keys.Store(&all)
	s.loaded = s.attempted
	return nil
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
