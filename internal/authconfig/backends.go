package authconfig

import (
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Defaults for the backends' timeouts and pool (keys of ours; docker_auth
// has none and waits for ever on a stuck directory or program).
const (
	DefaultLDAPTimeout        = 5  // seconds, for the dial and each operation
	DefaultLDAPMaxConnections = 8  // connections to the directory at once
	DefaultExtTimeout         = 10 // seconds a program may run
)

// LDAPConfig is docker_auth's `ldap_auth` section, key for key. Static users
// are tried first, then ext_auth, then LDAP, in docker_auth's order.
type LDAPConfig struct {
	// Addr is host:port. Port 636 with no `tls` means `tls: always`, as in
	// docker_auth.
	Addr string `yaml:"addr"`
	// TLS is "always" (LDAPS), "starttls", or "none"/"" (plain).
	TLS string `yaml:"tls"`
	// InsecureTLSSkipVerify accepts any server certificate.
	InsecureTLSSkipVerify bool `yaml:"insecure_tls_skip_verify"`
	// CACertificate is a PEM file of CAs to trust instead of the system's.
	CACertificate string `yaml:"ca_certificate"`
	// Base is the search base, e.g. "ou=people,dc=example,dc=org".
	Base string `yaml:"base"`
	// Filter finds the account, e.g. "(&(objectClass=person)(uid=${account}))";
	// the account is escaped (RFC 4515) before it is put in.
	Filter string `yaml:"filter"`
	// BindDN and BindPasswordFile are the service account the search runs
	// as; without BindDN the search is anonymous. With InitialBindAsUser,
	// BindDN is a template with ${account} and the user's own password is
	// used instead.
	BindDN            string `yaml:"bind_dn"`
	BindPasswordFile  string `yaml:"bind_password_file"`
	InitialBindAsUser bool   `yaml:"initial_bind_as_user"`
	// Labels maps a label name to the attribute of the user's entry its
	// values come from (memberOf for groups).
	Labels map[string]LDAPLabel `yaml:"labels"`

	// Timeout (ours) bounds the dial and each login's LDAP exchange, in
	// seconds. Default 5.
	Timeout *int `yaml:"timeout"`
	// MaxConnections (ours) bounds the pooled connections. Default 8.
	MaxConnections *int `yaml:"max_connections"`

	// Derived by Load.
	BindPassword string         `yaml:"-"` // bind_password_file's content, trimmed
	RootCAs      *x509.CertPool `yaml:"-"` // ca_certificate, nil for the system pool
	ServerName   string         `yaml:"-"` // the host of addr, for certificate checks
	TimeoutValue time.Duration  `yaml:"-"`
	MaxConns     int            `yaml:"-"`
}

// LDAPLabel is one entry of ldap_auth.labels.
type LDAPLabel struct {
	Attribute string `yaml:"attribute"`
	// ParseCN keeps only the CN of a DN value ("cn=devs,ou=groups,..." → "devs").
	ParseCN   bool `yaml:"parse_cn"`
	LowerCase bool `yaml:"lower_case"`
}

// ExtConfig is docker_auth's `ext_auth` and `ext_authz` section.
type ExtConfig struct {
	Command string   `yaml:"command"`
	Args    []string `yaml:"args"`
	// Timeout (ours) is how long, in seconds, the program may run before
	// it and its process group are killed. Default 10.
	Timeout *int `yaml:"timeout"`

	Path         string        `yaml:"-"` // Command as found in PATH
	TimeoutValue time.Duration `yaml:"-"`
}

func (v *validator) ldap() {
	l := v.c.LDAPAuth
	if l == nil {
		return
	}
	field := func(k string) string { return "ldap_auth." + k }
	host, port, err := net.SplitHostPort(l.Addr)
	switch {
	case l.Addr == "":
		v.problem(field("addr"), "required: host:port of the directory, e.g. ldap.example.com:636")
	case err != nil || host == "" || !validPort(port):
		v.problem(field("addr"), "must be host:port (no ldap:// prefix), got %q", l.Addr)
	}
	l.ServerName = host
	switch l.TLS {
	case "":
		if port == "636" {
			l.TLS = "always" // docker_auth's rule
		}
	case "none", "starttls", "always":
	default:
		v.problem(field("tls"), "must be always, starttls or none, got %q", l.TLS)
	}
	if l.CACertificate != "" {
		pem, err := os.ReadFile(l.CACertificate)
		l.RootCAs = x509.NewCertPool()
		switch {
		case err != nil:
			v.problem(field("ca_certificate"), "%v", err)
		case !l.RootCAs.AppendCertsFromPEM(pem):
			v.problem(field("ca_certificate"), "%s holds no PEM certificate", l.CACertificate)
		}
	}
	if !strings.Contains(l.Filter, "${account}") {
		// Without it every login would find the same entry.
		v.problem(field("filter"), `required, with ${account} in it, e.g. "(&(objectClass=person)(uid=${account}))"`)
	} else if _, err := ldap.CompileFilter(strings.ReplaceAll(l.Filter, "${account}", "x")); err != nil {
		v.problem(field("filter"), "not a valid LDAP filter: %v", err)
	}
	switch {
	case l.InitialBindAsUser && !strings.Contains(l.BindDN, "${account}"):
		v.problem(field("bind_dn"), "with initial_bind_as_user, a DN template with ${account}, e.g. uid=${account},ou=people,dc=example,dc=org")
	case l.InitialBindAsUser:
	case l.BindDN != "" && l.BindPasswordFile == "":
		v.problem(field("bind_password_file"), "required with bind_dn: a file holding the service account's password")
	case l.BindDN == "" && l.BindPasswordFile != "":
		v.problem(field("bind_dn"), "required with bind_password_file")
	case l.BindPasswordFile != "":
		pw, err := os.ReadFile(l.BindPasswordFile)
		if err != nil {
			v.problem(field("bind_password_file"), "%v", err)
		}
		l.BindPassword = strings.TrimSpace(string(pw))
		if err == nil && l.BindPassword == "" {
			// An empty password is an unauthenticated bind: it "succeeds".
			v.problem(field("bind_password_file"), "%s is empty", l.BindPasswordFile)
		}
	}
	names := make([]string, 0, len(l.Labels))
	for name := range l.Labels {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if l.Labels[name].Attribute == "" {
			v.problem(field("labels."+name+".attribute"), "required: the attribute the label's values come from, e.g. memberOf")
		}
	}
	l.TimeoutValue = v.seconds(field("timeout"), l.Timeout, DefaultLDAPTimeout)
	l.MaxConns = DefaultLDAPMaxConnections
	if l.MaxConnections != nil {
		l.MaxConns = *l.MaxConnections
		if l.MaxConns <= 0 {
			v.problem(field("max_connections"), "must be positive, got %d", l.MaxConns)
		}
	}
}

func (v *validator) ext() {
	for _, e := range []struct {
		name string
		c    *ExtConfig
	}{{"ext_auth", v.c.ExtAuth}, {"ext_authz", v.c.ExtAuthz}} {
		if e.c == nil {
			continue
		}
		if e.c.Command == "" {
			v.problem(e.name+".command", "required: the program to run")
		} else if path, err := exec.LookPath(e.c.Command); err != nil {
			v.problem(e.name+".command", "%v", err)
		} else {
			e.c.Path = path
		}
		e.c.TimeoutValue = v.seconds(e.name+".timeout", e.c.Timeout, DefaultExtTimeout)
	}
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n > 0 && n < 65536
}

// seconds returns a timeout key's value, or def when absent.
func (v *validator) seconds(field string, n *int, def int) time.Duration {
	if n == nil {
		return time.Duration(def) * time.Second
	}
	if *n <= 0 {
		v.problem(field, "must be a positive number of seconds, got %d", *n)
	}
	return time.Duration(*n) * time.Second
}

// Describe names the backend for logs.
func (l *LDAPConfig) Describe() string {
	scheme := "ldap"
	if l.TLS == "always" {
		scheme = "ldaps"
	}
	s := fmt.Sprintf("%s://%s", scheme, l.Addr)
	if l.TLS == "starttls" {
		s += " (StartTLS)"
	}
	return s
}
