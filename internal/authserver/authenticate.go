package authserver

import (
	"context"
	"errors"
	"net/netip"

	"github.com/wharf-registry/wharf/internal/loginguard"
)

// identity is who a token is for. account is "" for anonymous.
type identity struct {
	account   string
	labels    map[string][]string
	anonymous bool
	hash      []byte // stored password hash, for refresh token fingerprints
}

// errWrongPassword and errUnknownUser are logged, never shown: the client
// gets the same 401 for both.
var (
	errWrongPassword = errors.New("wrong password")
	errUnknownUser   = errors.New("unknown user")
)

// checkPassword authenticates name with password from the client address
// ip (internal/loginguard): a password verified within the last minute
// passes at once; concurrent checks of the same credentials share one
// bcrypt, at most NumCPU run at once; an address with too many failures
// gets 429 before bcrypt runs, an account with too many (from any
// addresses) gets its failures answered late but its right password
// accepted; and every failure, an unknown user's included, costs the
// bcrypt work of the costliest hash in the config.
func (s *Server) checkPassword(ctx context.Context, snap *snapshot, name, password string, ip netip.Addr) (identity, error) {
	u := snap.users[name]
	a := loginguard.Attempt{User: name, Password: password, Addr: ip, Decoys: snap.decoys}
	var backend *backendLogin
	if u != nil {
		a.Hash = u.hash
	} else if snap.backends.authenticates() {
		backend = snap.backends.attempt(snap, &a) // backends.go
	}
	ok, err := snap.guard.Check(ctx, a)
	if err != nil {
		// Declared in this branch: errors.As moves it to the heap, which so
		// costs only a check that failed.
		var throttled *loginguard.Throttled
		switch {
		case errors.As(err, &throttled):
			s.metrics.throttled.Inc()
			return identity{}, tooManyRequests(throttled)
		case backend != nil && ctx.Err() == nil:
			return identity{}, unavailable(err)
		}
		return identity{}, err // the client went away
	}
	switch {
	case backend != nil:
		return backend.result(ctx, ok)
	case u == nil:
		return identity{}, errUnknownUser
	case !ok:
		return identity{}, errWrongPassword
	}
	return identity{account: name, labels: u.labels, hash: u.hash}, nil
}
