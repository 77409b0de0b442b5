package authserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/wharf-registry/wharf/internal/authconfig"
	"github.com/wharf-registry/wharf/internal/authn"
	"github.com/wharf-registry/wharf/internal/extprog"
	"github.com/wharf-registry/wharf/internal/ldapauth"
	"github.com/wharf-registry/wharf/internal/loginguard"
	"github.com/wharf-registry/wharf/pkg/acl"
)

// backendTag stands in for the stored hash in credcache keys of backend
// logins: no bcrypt hash looks like it, so they never meet static ones.
var backendTag = []byte("\x00backend")

// closeDelay is how long a replaced snapshot's backends stay open for the
// requests still running on it.
const closeDelay = time.Minute

// backends are a snapshot's authentication backends beyond static users,
// in docker_auth's order (ext_auth, then ldap_auth), and ext_authz.
type backends struct {
	log    *slog.Logger
	chain  []authn.Authenticator
	authz  *extprog.Authorizer
	labels labelMemo // labels of the logins the cache remembers
}

func newBackends(cfg *authconfig.Config, log *slog.Logger) (*backends, error) {
	b := &backends{log: log}
	if cfg.ExtAuth != nil {
		b.chain = append(b.chain, extprog.NewAuthenticator(cfg.ExtAuth))
	}
	if cfg.LDAPAuth != nil {
		b.chain = append(b.chain, ldapauth.New(cfg.LDAPAuth))
	}
	if cfg.ExtAuthz != nil {
		b.authz = extprog.NewAuthorizer(cfg.ExtAuthz)
	}
	return b, nil
}

// authenticates reports whether a name that is no static user goes to a
// backend (without backends it is simply unknown).
func (b *backends) authenticates() bool { return b != nil && len(b.chain) > 0 }

// closeLater releases the backends once requests begun on a replaced
// snapshot are done.
func (b *backends) closeLater() {
	if b == nil {
		return
	}
	time.AfterFunc(closeDelay, func() {
		for _, a := range b.chain {
			a.Close()
		}
	})
}

// authenticate asks each backend in turn until one knows the user.
func (b *backends) authenticate(ctx context.Context, name, password string) (authn.Labels, error) {
	for _, a := range b.chain {
		labels, err := a.Authenticate(ctx, name, password)
		if errors.Is(err, authn.ErrUnknownUser) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", a.Name(), err)
		}
		return labels, nil
	}
	return nil, errUnknownUser
}

// backendLogin is one login of a name that is no static user, decided by
// the backends inside the password guard (internal/loginguard), so it has
// the static path's protections: a login verified within credCacheTTL
// passes at once (the directory is not asked again), concurrent logins
// with the same credentials share one backend call, an address with too
// many failures is refused before any backend is asked, an account under
// attack has its failures answered late, and with static password users
// configured a failure also pays the costliest decoy bcrypt, so it costs
// at least what a static user's failure does.
type backendLogin struct {
	b              *backends
	name, password string
	cause          error // why the backend refused; set only when this login asked it
}

// attempt makes a into a backend login: Verify asks the backends.
func (b *backends) attempt(snap *snapshot, a *loginguard.Attempt) *backendLogin {
	l := &backendLogin{b: b, name: a.User, password: a.Password}
	a.Hash = backendTag
	if len(snap.users) == 0 {
		a.Decoys = nil // no static user to hide among
	}
	a.Verify = func(ctx context.Context) (bool, error) {
		labels, err := b.authenticate(ctx, l.name, l.password)
		switch {
		case err == nil:
			b.labels.put(l.name, labels)
			return true, nil
		case errors.Is(err, authn.ErrWrongPassword), errors.Is(err, errUnknownUser):
			l.cause = err
			return false, nil
		}
		return false, err
	}
	return l
}

// result turns the guard's verdict into the identity.
func (l *backendLogin) result(ctx context.Context, ok bool) (identity, error) {
	if !ok {
		if l.cause != nil {
			return identity{}, l.cause
		}
		return identity{}, fmt.Errorf("%w (backend)", errWrongPassword)
	}
	labels, known := l.b.labels.get(l.name)
	if !known {
		// The cache outlived the labels it vouches for (more names than
		// the memo keeps): these credentials were right within the
		// cache's ttl, so asking the backend again unthrottled is safe.
		var err error
		if labels, err = l.b.authenticate(ctx, l.name, l.password); err != nil {
			if authn.Decided(err) || errors.Is(err, errUnknownUser) {
				return identity{}, err
			}
			return identity{}, unavailable(err)
		}
		l.b.labels.put(l.name, labels)
	}
	return identity{account: l.name, labels: labels}, nil
}

// unavailable is the answer when a backend cannot decide: 503 tells
// clients to retry and is not a wrong password (no "unauthorized" that
// would make a user doubt a right one). The cause, naming the server or
// program, is logged.
func unavailable(err error) *httpError {
	return &httpError{
		Status: http.StatusServiceUnavailable,
		Code:   "temporarily_unavailable",
		Msg:    "the authentication backend is unavailable; try again later",
		Err:    err,
		Header: http.Header{"Retry-After": {"5"}},
	}
}

// authorizeUnmatched asks ext_authz about a scope no ACL rule matched. An
// error denies, logged with the program.
func (b *backends) authorizeUnmatched(req acl.Request) ([]string, bool) {
	if b == nil || b.authz == nil {
		return nil, false
	}
	actions, err := b.authz.Authorize(context.Background(), extprog.Request{
		Account: req.Account, Type: req.Type, Name: req.Name, Service: req.Service,
		IP: req.IP, Actions: req.Actions, Labels: req.Labels,
	})
	if err != nil {
		b.log.Error("ext_authz failed; scope denied", "account", req.Account, "type", req.Type, "name", req.Name, "err", err)
		return []string{}, true
	}
	return actions, true
}

// labelMemo keeps the labels of each backend login that credcache
// remembers; credcache stores only "verified". A name missing here is
// verified again, so eviction costs a backend call, never a wrong label.
type labelMemo struct {
	mu sync.Mutex
	m  map[string]authn.Labels
}

func (l *labelMemo) get(name string) (authn.Labels, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	labels, ok := l.m[name]
	return labels, ok
}

func (l *labelMemo) put(name string, labels authn.Labels) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil || len(l.m) >= credCacheSize {
		l.m = map[string]authn.Labels{}
	}
	l.m[name] = labels
}
