package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/wharf-registry/wharf/internal/authconfig"
	"github.com/wharf-registry/wharf/internal/authn"
	"github.com/wharf-registry/wharf/internal/extprog"
	"github.com/wharf-registry/wharf/internal/ldapauth"
	"github.com/wharf-registry/wharf/pkg/acl"
)

// checkTimeout bounds what `auth check` waits for a backend.
const checkTimeout = 30 * time.Second

// identify finds the labels of account as the server would: a static user
// first, then ext_auth, then ldap_auth. Without a password, ext_auth is
// not asked and ldap_auth is searched with the service account only (the
// user's bind is skipped); with one, every backend runs the real login.
// It prints what each step found; an error is a backend that could not
// decide (the server would answer 503).
func identify(cfg *authconfig.Config, account string, password *string, stdout io.Writer) (map[string][]string, error) {
	if u, ok := cfg.Users[account]; ok {
		if password != nil && account != "" && bcrypt.CompareHashAndPassword([]byte(u.Password), []byte(*password)) != nil {
			fmt.Fprintf(stdout, "note: wrong password for the static user %q: the server answers 401 before the ACL\n", account)
		}
		return u.Labels, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
	defer cancel()
	if account != "" && cfg.ExtAuth != nil {
		a := extprog.NewAuthenticator(cfg.ExtAuth)
		if password == nil {
			fmt.Fprintf(stdout, "note: %s is not asked without --password-stdin\n", a.Name())
		} else {
			labels, err := a.Authenticate(ctx, account, *password)
			if done, err := report(stdout, a.Name(), account, labels, err); done {
				return labels, err
			}
		}
	}
	if account != "" && cfg.LDAPAuth != nil {
		a := ldapauth.New(cfg.LDAPAuth)
		defer a.Close()
		var labels map[string][]string
		var err error
		if password == nil {
			var e ldapauth.Entry
			if e, err = a.Lookup(ctx, account); err == nil {
				fmt.Fprintf(stdout, "%s: %q is %s (password not checked; add --password-stdin)\n", a.Name(), account, e.DN)
				return e.Labels, nil
			}
		} else {
			labels, err = a.Authenticate(ctx, account, *password)
		}
		if done, err := report(stdout, a.Name(), account, labels, err); done {
			return labels, err
		}
	}
	switch {
	case account == "":
		fmt.Fprintln(stdout, `note: anonymous access is off (no user ""): the server answers 401 before the ACL`)
	default:
		fmt.Fprintf(stdout, "note: %q is not in users nor known to a backend: the server answers 401 before the ACL; checking with no labels\n", account)
	}
	return nil, nil
}

// report prints one backend's answer; done is false when the backend does
// not know the user and the next one is asked.
func report(stdout io.Writer, name, account string, labels map[string][]string, err error) (bool, error) {
	switch {
	case errors.Is(err, authn.ErrUnknownUser):
		fmt.Fprintf(stdout, "%s: no user %q\n", name, account)
		return false, nil
	case errors.Is(err, authn.ErrWrongPassword):
		fmt.Fprintf(stdout, "note: %s refuses the password of %q (%v): the server answers 401 before the ACL\n", name, account, err)
		return true, nil
	case err != nil:
		return true, fmt.Errorf("%s: %w (the server answers 503)", name, err)
	}
	fmt.Fprintf(stdout, "%s: password of %q accepted\n", name, account)
	return true, nil
}

// extAuthorize asks ext_authz about a scope no rule matched, as the server
// does; it returns the actions and why.
func extAuthorize(cfg *authconfig.Config, req acl.Request) ([]string, string) {
	a := extprog.NewAuthorizer(cfg.ExtAuthz)
	ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
	defer cancel()
	actions, err := a.Authorize(ctx, extprog.Request{Account: req.Account, Type: req.Type, Name: req.Name,
		Service: req.Service, IP: req.IP, Actions: req.Actions, Labels: req.Labels})
	if err != nil {
		return []string{}, fmt.Sprintf("no rule matched; %s failed, so denied: %v", a.Name(), err)
	}
	return actions, "no rule matched; decided by " + a.Name()
}
