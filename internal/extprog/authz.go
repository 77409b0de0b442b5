package extprog

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"

	"github.com/wharf-registry/wharf/internal/authconfig"
)

// Authorizer is ext_authz, asked for a scope no ACL rule matched (with no
// acl at all, for every scope), as docker_auth does. The program reads the
// request as docker_auth's JSON on stdin (its AuthRequestInfo, field names
// capitalised):
//
//	{"Account":"bob","Type":"repository","Name":"app","Service":"registry",
//	 "IP":"10.0.0.5","Actions":["pull","push"],"Labels":{"group":["dev"]}}
//
// and answers with its exit status: 0 grants every requested action, 1
// grants none. Its stdout is not read, as in docker_auth (a script that
// logs to stdout keeps working). Any other status, a signal or a timeout
// is an error, which the caller turns into a denial (fail closed).
type Authorizer struct {
	p program
}

// NewAuthorizer returns ext_authz for a validated config.
func NewAuthorizer(c *authconfig.ExtConfig) *Authorizer {
	return &Authorizer{p: newProgram("ext_authz", c)}
}

// Request is one scope to decide.
type Request struct {
	Account string
	Type    string
	Name    string
	Service string
	IP      netip.Addr // invalid: unknown, sent as null
	Actions []string
	Labels  map[string][]string
}

// requestJSON is docker_auth's api.AuthRequestInfo as encoding/json writes
// it: no tags, so the Go field names; a nil net.IP is null.
type requestJSON struct {
	Account string
	Type    string
	Name    string
	Service string
	IP      *string
	Actions []string
	Labels  map[string][]string
}

// Authorize returns the granted actions: all of req.Actions or none.
func (a *Authorizer) Authorize(ctx context.Context, req Request) ([]string, error) {
	body := requestJSON{Account: req.Account, Type: req.Type, Name: req.Name, Service: req.Service,
		Actions: req.Actions, Labels: req.Labels}
	if req.IP.IsValid() {
		ip := req.IP.String()
		body.IP = &ip
	}
	in, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("%s: encode request: %w", &a.p, err)
	}
	r, err := a.p.run(ctx, in)
	if err != nil {
		return nil, err
	}
	switch r.code {
	case 0:
		return slices.Clone(req.Actions), nil
	case 1:
		return []string{}, nil
	}
	return nil, fmt.Errorf("%s: exit status %d (0 grants, 1 denies); stderr: %q", &a.p, r.code, r.stderr)
}

// Name names the program for logs.
func (a *Authorizer) Name() string { return a.p.String() }
