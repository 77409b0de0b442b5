package regserver

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/wharf-registry/wharf/internal/htpasswd"
	"github.com/wharf-registry/wharf/internal/loginguard"
	"github.com/wharf-registry/wharf/internal/regconfig"
	"github.com/wharf-registry/wharf/pkg/acl"
	"github.com/wharf-registry/wharf/pkg/token"
)

// identity is who made a request and what they may do.
type identity struct {
	user   string
	claims *token.Claims // token mode: the grants
	all    bool          // modes none and htpasswd: anyone admitted may do anything
	// pull, for a catalog request whose token carries the pull claim, is
	// what the catalog may list (catalog.go); nil lists everything.
	pull *acl.ACL
}

// can reports whether the identity may do action on the resource.
func (id identity) can(typ, name, action string) bool {
	return id.all || id.claims.Allows(typ, name, action)
}

// authenticator establishes the identity behind a request and checks it
// against what the request needs. Failures are 401 *Errors carrying the
// challenge.
type authenticator interface {
	authorize(r *http.Request, d decision) (identity, error)
}

// newAuthenticator builds the access controller the config selects. now
// is the clock token expiry is checked against (nil: time.Now).
func newAuthenticator(cfg *regconfig.Config, logger *slog.Logger, now func() time.Time) (authenticator, error) {
	switch a := cfg.Auth; {
	case a.Token != nil:
		return newTokenAuth(a.Token, logger, now)
	case a.Htpasswd != nil:
		f, err := htpasswd.Load(a.Htpasswd.Path, logger)
		if err != nil {
			return nil, fmt.Errorf("auth.htpasswd.path: %w", err)
		}
		return &basicAuth{realm: a.Htpasswd.Realm, file: f}, nil
	}
	return noAuth{}, nil
}

// noAuth admits everyone: registry:2 without an auth section.
type noAuth struct{}

func (noAuth) authorize(*http.Request, decision) (identity, error) {
	return identity{all: true}, nil
}

// basicAuth admits the users of an htpasswd file, each with full access,
// as registry:2 does.
type basicAuth struct {
	realm string
	file  *htpasswd.File
}

// authorize checks Basic credentials with the token server's protection
// (internal/loginguard), the client being the TCP peer: an address with
// too many failed logins gets 429 TOOMANYREQUESTS with Retry-After, and a
// client gone while its password was checked is logged as 499. A request
// without credentials (every client's first, to learn the challenge) is
// answered at once.
func (a *basicAuth) authorize(r *http.Request, d decision) (identity, error) {
	user, password, ok := r.BasicAuth()
	if ok && len(r.Header.Values("Authorization")) == 1 {
		peer, _ := netip.ParseAddrPort(r.RemoteAddr)
		good, err := a.file.Authenticate(r.Context(), user, password, peer.Addr().Unmap())
		var throttled *loginguard.Throttled
		switch {
		case errors.As(err, &throttled):
			e := errorf(http.StatusTooManyRequests, codeTooManyRequests, "too many failed logins; retry later").
				withHeader("Retry-After", strconv.Itoa(throttled.RetryAfterSeconds()))
			e.Err = err
			return identity{}, e
		case err != nil:
			return identity{}, err // the client went away: 499
		case good:
			return identity{user: user, all: true}, nil
		}
	}
	return identity{}, unauthorized(d, "Basic realm="+quote(a.realm), "authentication required")
}

// tokenAuth admits bearers of tokens from the configured token server and
// checks their grants against what each request needs.
type tokenAuth struct {
	realm, service string
	autoRedirect   bool
	redirectPath   string
	verifier       *token.Verifier
}

func newTokenAuth(t *regconfig.TokenAuth, logger *slog.Logger, now func() time.Time) (*tokenAuth, error) {
	opts := token.VerifierOptions{Issuer: t.Issuer, Service: t.Service, Now: now}
	if t.RootCertBundle != "" {
		data, err := os.ReadFile(t.RootCertBundle)
		if err != nil {
			return nil, fmt.Errorf("auth.token.rootcertbundle: %w", err)
		}
		var roots []*x509.Certificate
		if roots, err = token.ParseCertificatesPEM(data); err != nil {
			return nil, fmt.Errorf("auth.token.rootcertbundle %s: %w", t.RootCertBundle, err)
		}
		opts.Roots = roots
	}
	if t.JWKS != "" {
		// regconfig refuses this too; a config built in code must not
		// slip past it.
		if strings.HasPrefix(strings.ToLower(t.JWKS), "http://") && !t.JWKSInsecureHTTP {
			return nil, fmt.Errorf("auth.token.jwks: %s is plain http:// and auth.token.jwksinsecurehttp is not set", t.JWKS)
		}
		src, err := token.NewJWKSSource(t.JWKS, nil, 0, 0)
		if err != nil {
			return nil, fmt.Errorf("auth.token.jwks: %w", err)
		}
		opts.KeySource = src
		if logger != nil {
			// A URL is fetched on first use; probe it now so a wrong URL
			// shows in the log at startup, not at the first push. The
			// token server may well start after us: a warning, not an error.
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				if err := src.Refresh(ctx); err != nil {
					logger.Warn("auth.token.jwks not loaded yet; tokens signed by its keys fail until it is", "jwks", t.JWKS, "err", err)
				}
			}()
		}
	}
	v, err := token.NewVerifier(opts)
	if err != nil {
		return nil, fmt.Errorf("auth.token: %w", err)
	}
	return &tokenAuth{
		realm: t.Realm, service: t.Service,
		autoRedirect: t.AutoRedirect, redirectPath: t.AutoRedirectPath,
		verifier: v,
	}, nil
}

func (a *tokenAuth) authorize(r *http.Request, d decision) (identity, error) {
	raw, ok := bearer(r)
	if !ok {
		return identity{}, unauthorized(d, a.challenge(r, d, ""), "authentication required")
	}
	claims, err := a.verifier.Verify(r.Context(), raw)
	if err != nil {
		e := unauthorized(d, a.challenge(r, d, "invalid_token"), "authentication required")
		e.Err = err
		return identity{}, e
	}
	id := identity{user: claims.Subject, claims: claims}
	for _, acc := range d.need {
		if isCatalog(acc) && claims.Pull != nil {
			// The claim is the token server's permission to list what
			// the bearer may pull (catalog.go).
			if id.pull, err = compilePull(*claims.Pull); err != nil {
				e := unauthorized(d, a.challenge(r, d, "invalid_token"), "authentication required")
				e.Err = err
				return identity{}, e
			}
			continue
		}
		for _, action := range acc.Actions {
			if !claims.Allows(acc.Type, acc.Name, action) {
				return id, unauthorized(d, a.challenge(r, d, "insufficient_scope"), "authentication required")
			}
		}
	}
	return id, nil
}

// challenge renders the Bearer challenge exactly as clients and browser UIs
// parse it: realm, service, scope in that order, no spaces, scope present
// whenever the request has one, error last when there is one.
func (a *tokenAuth) challenge(r *http.Request, d decision, errCode string) string {
	realm := a.realm
	if a.autoRedirect {
		// Behind proxies with several names, send clients to the token
		// endpoint on the host they used.
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		realm = (&url.URL{Scheme: scheme, Host: r.Host, Path: a.redirectPath}).String()
	}
	var b strings.Builder
	b.WriteString("Bearer realm=" + quote(realm) + ",service=" + quote(a.service))
	if scopes := d.scopes(); len(scopes) > 0 {
		b.WriteString(",scope=" + quote(strings.Join(scopes, " ")))
	}
	if errCode != "" {
		b.WriteString(",error=" + quote(errCode))
	}
	return b.String()
}

// bearer extracts the token of a single "Authorization: Bearer" header.
func bearer(r *http.Request) (string, bool) {
	vals := r.Header.Values("Authorization")
	if len(vals) != 1 {
		return "", false
	}
	scheme, tok, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// unauthorized is the 401 every access controller answers with.
func unauthorized(d decision, challenge, msg string) *Error {
	e := errorf(http.StatusUnauthorized, codeUnauthorized, "%s", msg).withHeader("WWW-Authenticate", challenge)
	if recs := d.records(); len(recs) > 0 {
		e.Detail = recs
	}
	return e
}

// quote renders an auth-param quoted-string.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// CheckAuth builds the access controller cfg selects, reading its files
// (htpasswd entries, root certificates, a JWKS file), and reports what is
// wrong with them: what `registry validate` adds to regconfig's checks.
func CheckAuth(cfg *regconfig.Config) error {
	_, err := newAuthenticator(cfg, nil, nil)
	return err
}
