package extprog

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/wharf-registry/wharf/internal/authconfig"
	"github.com/wharf-registry/wharf/internal/authn"
)

// Authenticator is ext_auth. The program reads `USER PASSWORD` on stdin
// (one space, no newline: docker_auth's exact bytes) and answers with its
// exit status:
//
//	0  allowed; stdout is empty or {"labels": {"name": ["value", ...]}}
//	1  wrong password (no other backend is asked)
//	2  no such user (the next backend, ldap_auth, is asked)
//
// Any other status, a signal, a timeout or unreadable stdout on 0 is an
// error: the login fails with 503, never a grant.
type Authenticator struct {
	p program
}

// NewAuthenticator returns ext_auth for a validated config.
func NewAuthenticator(c *authconfig.ExtConfig) *Authenticator {
	return &Authenticator{p: newProgram("ext_auth", c)}
}

// extAuthResponse is what docker_auth reads from stdout on exit 0.
type extAuthResponse struct {
	Labels map[string][]string `json:"labels"`
}

// Authenticate runs the program for one login.
func (a *Authenticator) Authenticate(ctx context.Context, user, password string) (authn.Labels, error) {
	// The program splits its line at the first space: a user name with a
	// space would hand part of it over as the password's start, so such
	// names (which docker_auth passes) are unknown here.
	if user == "" || strings.ContainsFunc(user, isSpaceOrControl) || strings.ContainsAny(password, "\r\n\x00") {
		return nil, authn.ErrUnknownUser
	}
	r, err := a.p.run(ctx, []byte(user+" "+password))
	if err != nil {
		return nil, err
	}
	switch r.code {
	case 0:
		var resp extAuthResponse
		if out := bytes.TrimSpace(r.stdout); len(out) > 0 {
			if err := json.Unmarshal(out, &resp); err != nil {
				return nil, fmt.Errorf("%s: exit 0 but stdout is not {\"labels\": {...}}: %v", &a.p, err)
			}
		}
		return resp.Labels, nil
	case 1:
		return nil, authn.ErrWrongPassword
	case 2:
		return nil, authn.ErrUnknownUser
	}
	return nil, fmt.Errorf("%s: exit status %d (0 allows, 1 denies, 2 is no such user); stderr: %q", &a.p, r.code, r.stderr)
}

// Name names the program for logs.
func (a *Authenticator) Name() string { return a.p.String() }

// Close does nothing: no program outlives its call.
func (a *Authenticator) Close() {}

func isSpaceOrControl(r rune) bool { return r <= ' ' || r == 0x7f }
