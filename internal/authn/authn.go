// Package authn is the contract between the token server and its
// authentication backends beyond static users: ext_auth (a program) and
// ldap_auth (a directory), as cesanta/docker_auth has them.
//
// A backend answers in one of four ways, and the server keeps them apart:
//   - labels, nil: the password is right;
//   - [ErrUnknownUser]: the backend does not know the account, so the next
//     backend may (docker_auth's NoMatch);
//   - [ErrWrongPassword]: the backend knows the account and refuses it; no
//     other backend is asked;
//   - any other error: the backend could not decide (LDAP down, program
//     crashed, timed out, printed garbage). The login fails with 503, never
//     with a grant, and the error, which names the backend, is logged.
package authn

import (
	"context"
	"errors"
)

// Sentinel answers; anything else a backend returns means "unavailable".
var (
	ErrUnknownUser   = errors.New("unknown user")
	ErrWrongPassword = errors.New("wrong password")
)

// Labels are a user's labels, matched by the ACL's `labels` conditions and
// `${labels:X}` placeholders.
type Labels = map[string][]string

// Authenticator is one backend. Implementations are safe for concurrent use.
type Authenticator interface {
	// Authenticate checks password for user.
	Authenticate(ctx context.Context, user, password string) (Labels, error)
	// Name names the backend (and its server) for logs.
	Name() string
	// Close releases the backend's resources (connections); the server
	// calls it when a reload replaced the backend.
	Close()
}

// Decided reports whether err is a verdict about the user (unknown user or
// wrong password) rather than a failure to reach one.
func Decided(err error) bool {
	return errors.Is(err, ErrUnknownUser) || errors.Is(err, ErrWrongPassword)
}
