package authserver

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"

	"github.com/wharf-registry/wharf/internal/httpbody"
	"github.com/wharf-registry/wharf/pkg/token"
)

// maxFormBytes bounds a POST body: a form with 64 scopes fits many times.
const maxFormBytes = 64 << 10

// handlePost is the OAuth2 form of the token endpoint, which containerd,
// buildkit and go-containerregistry try before GET:
// https://distribution.github.io/distribution/spec/auth/oauth/
//
//	POST /auth  (application/x-www-form-urlencoded)
//	grant_type=password&username=U&password=P&service=S&scope=A B&client_id=C&access_type=offline
//	grant_type=refresh_token&refresh_token=R&service=S&scope=...
//
// Those clients fall back to GET on 400, 401, 404 and 405 only, so every
// refusal here uses one of those (or 429 when throttled, 413 for a huge
// body), with an OAuth2 JSON error.
func (s *Server) handlePost(w http.ResponseWriter, r *http.Request, snap *snapshot, req *tokenRequest) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return badRequest("invalid_request", "the body must be application/x-www-form-urlencoded")
	}
	// httpbody.Read, so that a client still sending a huge form reads the
	// 413 rather than a reset.
	body, err := httpbody.Read(w, r, maxFormBytes)
	if err != nil {
		// Declared in this branch: errors.As moves it to the heap, which so
		// costs only a form that could not be read.
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &httpError{Status: http.StatusRequestEntityTooLarge, Code: "invalid_request",
				Msg: fmt.Sprintf("the form is larger than %d bytes", maxFormBytes)}
		}
		return badRequest("invalid_request", "malformed form body")
	}
	f, err := url.ParseQuery(string(body)) // never the query string: credentials belong in the body
	if err != nil {
		return badRequest("invalid_request", "malformed form body")
	}
	req.service = f.Get("service")
	req.clientID = f.Get("client_id")
	req.offline = f.Get("access_type") == "offline"
	if req.scopes, err = token.ParseScopes(f["scope"]); err != nil {
		return badRequest("invalid_scope", "%v", err)
	}

	switch gt := f.Get("grant_type"); gt {
	case "password":
		req.grantType = gt
		user, password := f.Get("username"), f.Get("password")
		req.account = user
		if user == "" {
			return badRequest("invalid_request", "username is required")
		}
		if err := checkService(snap, req.service); err != nil {
			return err
		}
		id, err := s.checkPassword(r.Context(), snap, user, password, req.ip)
		if err != nil {
			return s.authFailure(snap, "invalid_grant", err)
		}
		return s.issue(w, snap, req, id, "", true)

	case "refresh_token":
		req.grantType = gt
		if snap.cfg.RefreshLifetime == 0 {
			return badRequest("unsupported_grant_type", "refresh tokens are disabled on this server")
		}
		raw := f.Get("refresh_token")
		if raw == "" {
			return badRequest("invalid_request", "refresh_token is required")
		}
		id, err := s.checkRefresh(snap, req, raw)
		if err != nil {
			return err
		}
		return s.issue(w, snap, req, id, raw, true)

	case "":
		return badRequest("invalid_request", "grant_type is required")
	default:
		return badRequest("unsupported_grant_type", "grant_type %q is not supported (use password or refresh_token)", gt)
	}
}

// checkRefresh verifies a refresh token and returns who it is for. It is
// refused once expired, and once its user is removed or has a new
// password; the reason goes to the log only.
func (s *Server) checkRefresh(snap *snapshot, req *tokenRequest, raw string) (identity, error) {
	invalid := func(err error) error {
		s.metrics.authFailures.Inc()
		return &httpError{Status: http.StatusBadRequest, Code: "invalid_grant",
			Msg: "the refresh token is invalid or expired; log in again", Err: err}
	}
	e, err := snap.refresh.verify(raw, s.now())
	if err != nil {
		return identity{}, invalid(err)
	}
	p := e.p
	req.account = p.Sub
	if req.service == "" {
		req.service = p.Aud
	}
	if req.service != p.Aud {
		return identity{}, invalid(fmt.Errorf("%w: issued for service %q", errBadRefresh, p.Aud))
	}
	if err := checkService(snap, req.service); err != nil {
		return identity{}, err
	}
	u := snap.users[p.Sub]
	if u == nil {
		return identity{}, invalid(fmt.Errorf("%w: user removed", errBadRefresh))
	}
	// The fingerprint's HMAC once per token and snapshot: the user, and
	// so the hash it was matched against, never changes within one.
	if e.owner.Load() != u {
		if !p.matches(e.key, u.hash) {
			return identity{}, invalid(fmt.Errorf("%w: password changed", errBadRefresh))
		}
		e.owner.Store(u)
	}
	return identity{account: u.name, labels: u.labels, hash: u.hash}, nil
}
