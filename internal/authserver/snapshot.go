package authserver

import (
	"fmt"
	"net/http"
	"time"

	"github.com/wharf-registry/wharf/internal/authconfig"
	"github.com/wharf-registry/wharf/internal/credcache"
	"github.com/wharf-registry/wharf/internal/decoy"
	"github.com/wharf-registry/wharf/internal/loginguard"
	"github.com/wharf-registry/wharf/pkg/token"
)

// How long and how many successful password checks are remembered.
const (
	credCacheTTL  = time.Minute
	credCacheSize = 10000
)

// snapshot is everything one configuration implies, built once and never
// changed: a reload builds a new one and swaps a pointer, so a request
// runs start to finish against the snapshot it began with. Caches live
// here so a reload (changed passwords, rules, keys) drops them all.
type snapshot struct {
	cfg       *authconfig.Config
	users     map[string]*user // password users; never ""
	anonymous *user            // the "" entry, nil when anonymous access is off
	decoys    *decoy.Set       // what makes every failed login cost the same
	realm     string
	jwks      []byte
	refresh   *refresher
	tokens    *tokenCache
	throttle  *loginguard.Throttle // kept across reloads that keep the limits
	guard     *loginguard.Guard    // checks passwords
	backends  *backends            // ext_auth, ldap_auth, ext_authz (backends.go)
	handler   http.Handler
}

type user struct {
	name   string
	hash   []byte
	labels map[string][]string
}

// build makes a snapshot of cfg. Its password checks use guard's slots,
// clock and sleep; the cache of verified passwords is its own and starts
// empty. prev, when not nil, lends its throttle state if the limits did not
// change: a reload must not forgive an attacker's failures.
func build(cfg *authconfig.Config, prev *snapshot, guard loginguard.Options) (*snapshot, error) {
	snap := &snapshot{
		cfg:    cfg,
		users:  map[string]*user{},
		realm:  cfg.Token.Issuer,
		tokens: newTokenCache(),
	}
	var hashes [][]byte
	for name, u := range cfg.Users {
		entry := &user{name: name, hash: []byte(u.Password), labels: u.Labels}
		if name == "" {
			snap.anonymous = entry
			continue
		}
		snap.users[name] = entry
		hashes = append(hashes, entry.hash)
	}
	var err error
	if snap.decoys, err = decoy.New(hashes); err != nil {
		return nil, err
	}
	if snap.jwks, err = token.MarshalJWKS(cfg.Keys); err != nil {
		return nil, fmt.Errorf("render JWKS: %w", err)
	}
	if snap.refresh, err = newRefresher(cfg.Keys); err != nil {
		return nil, err
	}
	snap.throttle = loginguard.NewThrottle(cfg.Throttle.Limits())
	if prev != nil && prev.throttle.SameLimits(snap.throttle) {
		snap.throttle = prev.throttle
	}
	guard.Cache = credcache.New(credCacheSize, credCacheTTL)
	guard.Throttle = snap.throttle
	snap.guard = loginguard.New(guard)
	return snap, nil
}

// serviceAllowed reports whether tokens may be issued for service.
func (s *snapshot) serviceAllowed(service string) bool {
	return s.cfg.Services == nil || s.cfg.Services[service]
}
