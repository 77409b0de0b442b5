package ui

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wharf-registry/wharf/pkg/token"
)

// authorizer adds credentials to an API request.
type authorizer func(*http.Request)

// grants is what the credentials allow, as far as the UI needs to know to
// show or hide buttons; the registry decides for itself on every call.
type grants struct {
	all    bool // no auth or htpasswd: whoever is in may do anything
	access []token.ResourceActions
}

// allows reports whether the grants include action on a repository.
func (g grants) allows(name, action string) bool {
	if g.all {
		return true
	}
	for _, ra := range g.access {
		if ra.Type == "repository" && ra.Name == name &&
			(slices.Contains(ra.Actions, action) || slices.Contains(ra.Actions, "*")) {
			return true
		}
	}
	return false
}

// credentials turns a session into authorizers for sets of scopes.
type credentials interface {
	authFor(ctx context.Context, scopes []string) (authorizer, grants, error)
}

// noCreds is the registry without auth.
type noCreds struct{}

func (noCreds) authFor(context.Context, []string) (authorizer, grants, error) {
	return nil, grants{all: true}, nil
}

// basicCreds is htpasswd auth: the password goes with every call.
type basicCreds struct{ user, password string }

func (b basicCreds) authFor(context.Context, []string) (authorizer, grants, error) {
	return func(r *http.Request) { r.SetBasicAuth(b.user, b.password) }, grants{all: true}, nil
}

// tokenCreds is token auth: an access token per set of scopes, fetched
// with the session's refresh token.
type tokenCreds struct {
	realm   *realm
	refresh string
	cache   *tokenCache
}

func (t tokenCreds) authFor(ctx context.Context, scopes []string) (authorizer, grants, error) {
	scopes = slices.Clone(scopes)
	slices.Sort(scopes)
	key := cacheKey(t.refresh, scopes)
	tok, ok := t.cache.get(key)
	if !ok {
		var ttl time.Duration
		var err error
		tok, ttl, err = t.realm.access(ctx, t.refresh, scopes)
		if err != nil {
			return nil, grants{}, err
		}
		t.cache.put(key, tok, ttl)
	}
	bearer := "Bearer " + tok
	return func(r *http.Request) { r.Header.Set("Authorization", bearer) }, grants{access: accessOf(tok)}, nil
}

// accessOf reads the access claim of a JWT without verifying it: the token
// came straight from the token server over the UI's own connection, and it
// only decides which buttons to show. The registry verifies it on use.
func accessOf(jwt string) []token.ResourceActions {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil
	}
	var c struct {
		Access []token.ResourceActions `json:"access"`
	}
	if json.Unmarshal(payload, &c) != nil {
		return nil
	}
	return c.Access
}

func cacheKey(refresh string, scopes []string) string {
	h := sha256.Sum256([]byte(refresh))
	return base64.RawURLEncoding.EncodeToString(h[:]) + " " + strings.Join(scopes, " ")
}

// tokenCache keeps access tokens briefly, keyed by (refresh token hash,
// scopes), so a page of 25 repositories costs one token request, not 25,
// and reloading a page costs none. Entries live at most maxTokenAge and
// half their lifetime, so a revoked grant shows within a minute.
type tokenCache struct {
	mu      sync.Mutex
	now     func() time.Time
	entries map[string]cachedToken
}

type cachedToken struct {
	token   string
	expires time.Time
}

const (
	maxTokenAge     = 60 * time.Second
	tokenCacheLimit = 4096
)

func newTokenCache(now func() time.Time) *tokenCache {
	return &tokenCache{now: now, entries: map[string]cachedToken{}}
}

func (c *tokenCache) get(key string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || !c.now().Before(e.expires) {
		delete(c.entries, key)
		return "", false
	}
	return e.token, true
}

func (c *tokenCache) put(key, tok string, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if len(c.entries) >= tokenCacheLimit {
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, k)
			}
		}
		for k := range c.entries { // still full: forget an arbitrary half
			if len(c.entries) < tokenCacheLimit/2 {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[key] = cachedToken{token: tok, expires: now.Add(min(ttl/2, maxTokenAge))}
}
