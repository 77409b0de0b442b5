package authserver

import (
	"context"
	"errors"
	"net/http"

	"github.com/wharf-registry/wharf/pkg/token"
)

// handleGet is the Docker token endpoint:
// https://distribution.github.io/distribution/spec/auth/token/#requesting-a-token
//
//	GET /auth?service=S&scope=T:N:A[&scope=...]&account=U&offline_token=true&client_id=C
//	Authorization: Basic ... (optional when anonymous access is on)
//
// `docker login` sends no scope and reads a 200 with empty access as
// "Login Succeeded". Malformed input is refused (400) before credentials
// are checked; a scope the user may not have is not an error but a token
// listing it with fewer (or no) actions.
func (s *Server) handleGet(w http.ResponseWriter, r *http.Request, snap *snapshot, req *tokenRequest) error {
	q := r.URL.Query()
	req.service = q.Get("service")
	req.clientID = q.Get("client_id")
	req.offline = q.Get("offline_token") == "true"
	account := q.Get("account")
	user, password, hasBasic := r.BasicAuth()
	if hasBasic && user == "" && password == "" {
		hasBasic = false // an empty login form: no credentials at all
	}
	req.account = account
	if hasBasic {
		req.account = user
	}

	scopes, err := token.ParseScopes(q["scope"])
	if err != nil {
		return badRequest("invalid_scope", "%v", err)
	}
	req.scopes = scopes
	if hasBasic && account != "" && account != user {
		return badRequest("invalid_request", "account %q does not match the authenticated user", account)
	}
	if err := checkService(snap, req.service); err != nil {
		return err
	}

	var id identity
	switch {
	case hasBasic:
		req.grantType = "basic"
		id, err = s.checkPassword(r.Context(), snap, user, password, req.ip)
		if err != nil {
			return s.authFailure(snap, "unauthorized", err)
		}
	case account == "" && snap.anonymous != nil:
		req.grantType = "anonymous"
		id = identity{anonymous: true, labels: snap.anonymous.labels}
	default:
		// No credentials, and anonymous access is off or an account was
		// named: the same 401 as a wrong password.
		// It takes as long as a wrong password, too.
		req.grantType = "none"
		if err := snap.guard.Refuse(r.Context(), snap.decoys); err != nil {
			return s.authFailure(snap, "unauthorized", err)
		}
		return s.authFailure(snap, "unauthorized", errNoCredentials)
	}
	return s.issue(w, snap, req, id, "", false)
}

var errNoCredentials = errors.New("no credentials")

// authFailure turns a failed authentication into the client's answer:
// throttling and cancellations pass through; everything else is the one
// 401 that does not tell a wrong password from an unknown user.
func (s *Server) authFailure(snap *snapshot, code string, err error) error {
	var he *httpError
	if errors.As(err, &he) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return clientGone(err) // it gave up while its password was checked
	}
	s.metrics.authFailures.Inc()
	return unauthorized(snap.realm, code, err)
}
