// Package ldapauth is docker_auth's ldap_auth: it checks logins against an
// LDAP directory and turns attributes of the user's entry (memberOf for
// groups) into ACL labels.
//
// A login is: bind as the service account (bind_dn), search base for the
// filter with the account escaped (RFC 4515, so `*)(uid=*` is a literal
// name that finds nobody), require exactly one entry, bind as that entry's
// DN with the user's password. With initial_bind_as_user the first bind is
// as bind_dn with ${account} put in (RFC 4514 escaped) and the user's
// password, and the search runs as the user.
//
// An empty password never reaches the directory: a simple bind with one is
// an "unauthenticated bind" that many servers answer with success. When no
// entry matches, the login still binds once (as a DN that does not exist,
// with the given password), so an unknown user costs the same round trips
// as a wrong password.
package ldapauth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/wharf-registry/wharf/internal/authconfig"
	"github.com/wharf-registry/wharf/internal/authn"
)

// Authenticator is one ldap_auth section. It is safe for concurrent use.
type Authenticator struct {
	cfg   *authconfig.LDAPConfig
	pool  *pool
	attrs []string // attributes the search returns: the labels' sources
	decoy string   // DN bound when no entry matched
}

// New returns the backend for a validated config. It dials lazily: a
// directory down at startup fails logins (503), not the server.
func New(cfg *authconfig.LDAPConfig) *Authenticator {
	a := &Authenticator{cfg: cfg, pool: newPool(cfg)}
	for _, l := range cfg.Labels {
		a.attrs = append(a.attrs, l.Attribute)
	}
	sort.Strings(a.attrs)
	if len(a.attrs) == 0 {
		a.attrs = []string{"1.1"} // RFC 4511: no attributes, just the DN
	}
	var r [12]byte
	_, _ = rand.Read(r[:])
	a.decoy = "cn=wharf-no-such-user-" + hex.EncodeToString(r[:])
	if cfg.Base != "" {
		a.decoy += "," + cfg.Base
	}
	return a
}

// Name names the directory for logs.
func (a *Authenticator) Name() string { return "ldap_auth " + a.cfg.Describe() }

// Close closes the pooled connections.
func (a *Authenticator) Close() { a.pool.close() }

// Entry is what the directory holds for an account.
type Entry struct {
	DN     string
	Labels authn.Labels
}

// Authenticate checks password for account and returns its labels.
func (a *Authenticator) Authenticate(ctx context.Context, account, password string) (authn.Labels, error) {
	if account == "" {
		return nil, authn.ErrUnknownUser
	}
	if password == "" {
		return nil, fmt.Errorf("%w: empty password (never sent to the directory)", authn.ErrWrongPassword)
	}
	var labels authn.Labels
	err := a.pool.do(ctx, func(c *conn) error {
		if err := a.searchBind(c, account, password); err != nil {
			return err
		}
		e, err := a.find(c, account)
		if errors.Is(err, authn.ErrUnknownUser) {
			// The same last round trip as a wrong password; its answer
			// does not matter.
			_ = c.Bind(a.decoy, password)
			return err
		}
		if err != nil {
			return err
		}
		if err := userBind(c, e.DN, password); err != nil {
			return err
		}
		labels = e.Labels
		return nil
	})
	return labels, err
}

// Lookup finds account's entry and labels with the service account,
// without the user's password: what `auth check` shows. It cannot work
// with initial_bind_as_user, whose searches need the user's password.
func (a *Authenticator) Lookup(ctx context.Context, account string) (Entry, error) {
	if a.cfg.InitialBindAsUser {
		return Entry{}, errors.New("initial_bind_as_user: the directory is searched as the user, so a lookup needs the password")
	}
	var e Entry
	err := a.pool.do(ctx, func(c *conn) error {
		if err := a.searchBind(c, account, ""); err != nil {
			return err
		}
		var err error
		e, err = a.find(c, account)
		return err
	})
	return e, err
}

// searchBind binds as whoever searches: the service account, nobody, or
// (initial_bind_as_user) the user. A pooled connection is bound as the
// previous user, so this always runs.
func (a *Authenticator) searchBind(c *conn, account, password string) error {
	switch {
	case a.cfg.InitialBindAsUser:
		dn := strings.ReplaceAll(a.cfg.BindDN, "${account}", ldap.EscapeDN(account))
		return userBind(c, dn, password)
	case a.cfg.BindDN != "":
		if err := c.Bind(a.cfg.BindDN, a.cfg.BindPassword); err != nil {
			// A refused service account is a config problem: 503, not 401.
			return fmt.Errorf("bind as %s: %w", a.cfg.BindDN, err)
		}
		return nil
	}
	return c.UnauthenticatedBind("")
}

// userBind binds as a user. The directory's refusals (wrong password,
// locked or disabled account) are a wrong password; anything else is the
// directory failing.
func userBind(c *conn, dn, password string) error {
	err := c.Bind(dn, password)
	if ldap.IsErrorAnyOf(err, ldap.LDAPResultInvalidCredentials, ldap.LDAPResultInappropriateAuthentication,
		ldap.LDAPResultUnwillingToPerform, ldap.LDAPResultInsufficientAccessRights, ldap.LDAPResultNoSuchObject) {
		return fmt.Errorf("%w: bind as %s: %v", authn.ErrWrongPassword, dn, err)
	}
	return err
}

// find searches for the one entry of account.
func (a *Authenticator) find(c *conn, account string) (Entry, error) {
	filter := strings.ReplaceAll(a.cfg.Filter, "${account}", ldap.EscapeFilter(account))
	req := ldap.NewSearchRequest(a.cfg.Base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		2, int(a.cfg.TimeoutValue.Seconds()), false, filter, a.attrs, nil)
	res, err := c.Search(req)
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) || (err == nil && len(res.Entries) > 1):
		// Two people behind one login name: refuse rather than guess.
		return Entry{}, fmt.Errorf("%w: filter %s matches more than one entry under %q", authn.ErrWrongPassword, filter, a.cfg.Base)
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		return Entry{}, fmt.Errorf("search base %q does not exist: %w", a.cfg.Base, err)
	case err != nil:
		return Entry{}, fmt.Errorf("search %s: %w", filter, err)
	case len(res.Entries) == 0:
		return Entry{}, authn.ErrUnknownUser
	}
	e := res.Entries[0]
	return Entry{DN: e.DN, Labels: a.labels(e)}, nil
}

// labels maps the entry's attributes to labels as docker_auth does:
// parse_cn keeps the CN of a DN value, lower_case lowers it; a label whose
// attribute the entry lacks is absent.
func (a *Authenticator) labels(e *ldap.Entry) authn.Labels {
	labels := authn.Labels{}
	for name, l := range a.cfg.Labels {
		var values []string
		for _, v := range e.GetEqualFoldAttributeValues(l.Attribute) {
			if l.ParseCN {
				v = commonName(v)
			}
			if l.LowerCase {
				v = strings.ToLower(v)
			}
			values = append(values, v)
		}
		if len(values) > 0 {
			labels[name] = values
		}
	}
	return labels
}

// commonName returns the first CN in dn, or dn itself when it has none
// or does not parse.
func commonName(dn string) string {
	parsed, err := ldap.ParseDN(dn)
	if err != nil {
		return dn
	}
	for _, rdn := range parsed.RDNs {
		for _, av := range rdn.Attributes {
			if strings.EqualFold(av.Type, "cn") {
				return av.Value
			}
		}
	}
	return dn
}
