package authserver

import (
	"encoding/json"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wharf-registry/wharf/pkg/acl"
	"github.com/wharf-registry/wharf/pkg/token"
)

// tokenResponse is the body of a successful token request. token and
// access_token are the same JWT: the Docker token spec names the first,
// OAuth2 clients read the second. expires_in is in seconds (clients assume
// 60 without it); issued_at is RFC 3339.
type tokenResponse struct {
	Token        string `json:"token"`
	AccessToken  string `json:"access_token"`
	ExpiresIn    int64  `json:"expires_in"`
	IssuedAt     string `json:"issued_at"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"` // OAuth2 (POST) only: what was granted

	// quotedToken is Token as a JSON string, when known: made once per
	// signed token, not once per response (response_json.go).
	quotedToken string `json:"-"`
}

// grant is the outcome of authorizing one token request.
type grant struct {
	access  []token.ResourceActions
	rules   []int             // deciding ACL rule per access entry, -1 for none
	denials int               // scopes not fully granted
	pull    *[]token.PullRule // the narrowed pull rules for the catalog (catalog.go), or nil
}

// authorize decides every scope against the ACL. Scopes naming the same
// resource are merged first, so the token lists each resource once.
func authorize(snap *snapshot, id identity, service string, ip netip.Addr, scopes []token.Scope) grant {
	g := grant{access: []token.ResourceActions{}}
	for _, sc := range mergeScopes(scopes) {
		req := acl.Request{
			Account: id.account,
			Labels:  id.labels,
			Service: service,
			IP:      ip,
			Type:    sc.Type,
			Name:    sc.Name,
			Actions: sc.Actions,
		}
		d := snap.cfg.Rules.Authorize(req)
		actions := d.Actions
		if d.Rule < 0 {
			if ext, asked := snap.backends.authorizeUnmatched(req); asked {
				actions = ext // docker_auth: ext_authz decides what the ACL did not
			}
		}
		if actions == nil {
			actions = []string{}
		}
		g.access = append(g.access, token.ResourceActions{Type: sc.Type, Class: sc.Class, Name: sc.Name, Actions: actions})
		g.rules = append(g.rules, d.Rule)
		if !grantsAll(actions, sc.Actions) {
			g.denials++
		}
	}
	return g
}

// mergeScopes merges the scopes naming the same resource, in the order
// they were first asked for. A request has at most token.MaxScopes
// scopes, mostly one: a linear search costs less than a map.
func mergeScopes(scopes []token.Scope) []token.Scope {
	out := make([]token.Scope, 0, len(scopes))
	for _, sc := range scopes {
		i := slices.IndexFunc(out, func(o token.Scope) bool {
			return o.Type == sc.Type && o.Class == sc.Class && o.Name == sc.Name
		})
		if i < 0 {
			sc.Actions = slices.Clone(sc.Actions)
			out = append(out, sc)
			continue
		}
		for _, a := range sc.Actions {
			if !slices.Contains(out[i].Actions, a) {
				out[i].Actions = append(out[i].Actions, a)
			}
		}
	}
	return out
}

func grantsAll(granted, asked []string) bool {
	for _, a := range asked {
		if !slices.Contains(granted, a) && !slices.Contains(granted, "*") {
			return false
		}
	}
	return true
}

// accessToken returns a signed JWT for (id, service, g), reusing one
// signed moments ago for exactly the same claims when it can.
func (s *Server) accessToken(snap *snapshot, id identity, service string, g grant) (issued, bool, error) {
	now := s.now()
	var buf [512]byte // most keys fit: no allocation to find a cached token
	key := appendCacheKey(buf[:0], id.account, service, g)
	if e, ok := snap.tokens.get(key, now); ok {
		return e, true, nil
	}
	iat := now.Truncate(time.Second)
	c := &token.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    snap.cfg.Token.Issuer,
			Subject:   id.account,
			ExpiresAt: jwt.NewNumericDate(iat.Add(snap.cfg.Expiration)),
			NotBefore: jwt.NewNumericDate(iat),
			IssuedAt:  jwt.NewNumericDate(iat),
			ID:        token.NewJTI(),
		},
		Access: g.access,
		Pull:   g.pull,
	}
	if service != "" {
		c.Audience = jwt.ClaimStrings{service}
	}
	raw, err := snap.cfg.Keys[0].Sign(c)
	if err != nil {
		return issued{}, false, err
	}
	e := newIssued(raw, iat, snap.cfg.Expiration)
	snap.tokens.put(string(key), e, now)
	return e, false, nil
}

// cacheKey identifies the claims that matter: who, for which service,
// granted what, with which pull rules (they depend on the client address
// too). Every part is length-prefixed, so no two different claims share a
// key whatever their strings contain; actions are taken in sorted order,
// as the token lists them.
func cacheKey(account, service string, g grant) string {
	return string(appendCacheKey(nil, account, service, g))
}

// appendCacheKey appends cacheKey's bytes to b.
func appendCacheKey(b []byte, account, service string, g grant) []byte {
	access := g.access
	b = appendKeyPart(b, account)
	b = appendKeyPart(b, service)
	if access == nil { // a token with "access": null, not []
		b = append(b, 'n')
	}
	b = strconv.AppendInt(b, int64(len(access)), 10)
	b = append(b, '#')
	for _, ra := range access {
		b = appendKeyPart(b, ra.Type)
		b = appendKeyPart(b, ra.Class)
		b = appendKeyPart(b, ra.Name)
		actions := ra.Actions
		if !slices.IsSorted(actions) {
			actions = slices.Sorted(slices.Values(actions))
		}
		b = strconv.AppendInt(b, int64(len(actions)), 10)
		b = append(b, '#')
		for _, a := range actions {
			b = appendKeyPart(b, a)
		}
	}
	// Pull rules come only with a catalog scope: their JSON (as the token
	// carries them) is unambiguous, and rare enough not to matter.
	if g.pull != nil {
		p, _ := json.Marshal(*g.pull)
		b = append(b, 'p')
		b = appendKeyPart(b, string(p))
	}
	return b
}

// appendKeyPart appends s as <length>:<s>.
func appendKeyPart(b []byte, s string) []byte {
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, ':')
	return append(b, s...)
}

// grantedScope renders what was granted in scope syntax, space-separated,
// for the OAuth2 "scope" response field.
func grantedScope(access []token.ResourceActions) string {
	var parts []string
	for _, ra := range access {
		if len(ra.Actions) == 0 {
			continue
		}
		actions := slices.Clone(ra.Actions)
		slices.Sort(actions)
		parts = append(parts, token.Scope{Type: ra.Type, Class: ra.Class, Name: ra.Name, Actions: actions}.String())
	}
	return strings.Join(parts, " ")
}

// newResponse builds the response body for an access token.
func newResponse(e issued) tokenResponse {
	return tokenResponse{
		Token:       e.token,
		AccessToken: e.token,
		quotedToken: e.quoted,
		ExpiresIn:   int64(e.lifetime / time.Second),
		IssuedAt:    e.issuedAtText,
	}
}

// reuseFraction is how much of a token's lifetime may pass while it is
// still handed out again for the same (account, service, grants).
// Signing is the wall after bcrypt (RSA-2048 about 1 ms a token), and a CI
// fleet asks for the same token over and over; a reused token still has
// 90% of its life left, and clients read its real issued_at.
const reuseFraction = 10

// tokenCacheSize bounds the number of remembered tokens.
const tokenCacheSize = 10000

// issued is a signed access token and when it was made.
type issued struct {
	token        string
	quoted       string // token as a JSON string, for every response that reuses it
	issuedAt     time.Time
	issuedAtText string // issuedAt in RFC 3339, formatted once for every reuse
	lifetime     time.Duration
}

// newIssued is a token signed at iat, with what every response reusing it
// prints formatted once.
func newIssued(raw string, iat time.Time, lifetime time.Duration) issued {
	return issued{token: raw, quoted: string(appendJSONString(nil, raw)), issuedAt: iat,
		issuedAtText: iat.UTC().Format(time.RFC3339), lifetime: lifetime}
}

// tokenCache remembers tokens signed moments ago. It lives in a config
// snapshot, so a reload (new keys, new rules) drops it.
type tokenCache struct {
	mu      sync.Mutex
	entries map[string]issued
}

func newTokenCache() *tokenCache {
	return &tokenCache{entries: map[string]issued{}}
}

// get returns a token for key still young enough to reuse.
func (c *tokenCache) get(key []byte, now time.Time) (issued, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[string(key)] // no copy of key for a lookup
	if !ok {
		return issued{}, false
	}
	if !fresh(e, now) {
		delete(c.entries, string(key))
		return issued{}, false
	}
	return e, true
}

func (c *tokenCache) put(key string, e issued, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= tokenCacheSize {
		for k, old := range c.entries {
			if !fresh(old, now) {
				delete(c.entries, k)
			}
		}
		for k := range c.entries { // still full: drop an arbitrary half
			if len(c.entries) < tokenCacheSize/2 {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[key] = e
}

// fresh reports whether less than 1/reuseFraction of e's lifetime passed.
// A clock stepping backwards also ends reuse.
func fresh(e issued, now time.Time) bool {
	age := now.Sub(e.issuedAt)
	return age >= 0 && age < e.lifetime/reuseFraction
}
