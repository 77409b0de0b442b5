package authserver

import (
	"context"
	"errors"
	"net/netip"

	"golang.org/x/crypto/bcrypt"
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

// checkPassword authenticates name with password.
//
// Its order is what keeps it fast and safe:
//  1. Credentials verified by bcrypt within the last minute (credcache) pass
//     at once, and are never throttled: a user who logs in correctly is not
//     slowed by someone else's brute force.
//  2. A client IP or account with too many recent failures gets 429 before
//     bcrypt runs, so brute force costs the attacker, not the server.
//  3. bcrypt, at most NumCPU at a time. An unknown user is compared against
//     a decoy hash of one of the users' costs (internal/decoy), so it takes as
//     long as a wrong password and answers the same.
func (s *Server) checkPassword(ctx context.Context, snap *snapshot, name, password string, ip netip.Addr) (identity, error) {
	u := snap.users[name]
	hash := snap.decoys.For(name)
	if u != nil {
		hash = u.hash
	}
	if snap.creds.Check(name, password, hash, func() bool { return false }) && u != nil {
		return identity{account: name, labels: u.labels, hash: u.hash}, nil
	}

	att, wait := snap.throttle.begin(s.now(), throttleKeys(name, ip)...)
	if wait > 0 {
		s.metrics.throttled.Inc()
		return identity{}, tooManyRequests(wait)
	}

	select {
	case s.bcrypt <- struct{}{}:
	case <-ctx.Done():
		att.release() // not a failed login: the client left
		return identity{}, ctx.Err()
	}
	ok := snap.creds.Check(name, password, hash, func() bool {
		return bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil
	})
	<-s.bcrypt

	// The decoy's password is random and unknown, so ok is false for an
	// unknown user anyway; the explicit check costs nothing and reads true.
	// A failure keeps the throttle tokens spent.
	switch {
	case u == nil:
		return identity{}, errUnknownUser
	case !ok:
		return identity{}, errWrongPassword
	}
	att.release()
	return identity{account: name, labels: u.labels, hash: u.hash}, nil
}

// throttleKeys are the buckets one login attempt counts against. Unknown
// accounts are tracked like real ones, or throttling would tell them apart.
func throttleKeys(name string, ip netip.Addr) []string {
	keys := []string{"account\x00" + name}
	if ip.IsValid() {
		keys = append(keys, "ip\x00"+ip.String())
	}
	return keys
}
