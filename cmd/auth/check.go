package main

import (
	"flag"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strings"

	"github.com/wharf-registry/wharf/internal/authconfig"
	"github.com/wharf-registry/wharf/pkg/acl"
	"github.com/wharf-registry/wharf/pkg/token"
)

// validate prints every problem in the config (exit 1), or a summary and
// the warnings the server would log (exit 0).
func validate(path string, stdout, stderr io.Writer) int {
	cfg, err := authconfig.Load(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: OK (%d users, %d acl rules, %d keys)\n", path, len(cfg.Users), cfg.Rules.Len(), len(cfg.Keys))
	if cfg.ExtAuth != nil {
		fmt.Fprintf(stdout, "ext_auth: %s\n", cfg.ExtAuth.Path)
	}
	if cfg.LDAPAuth != nil {
		fmt.Fprintf(stdout, "ldap_auth: %s (not contacted by validate)\n", cfg.LDAPAuth.Describe())
	}
	if cfg.ExtAuthz != nil {
		fmt.Fprintf(stdout, "ext_authz: %s\n", cfg.ExtAuthz.Path)
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(stdout, "warning:", w)
	}
	return 0
}

// check prints, for each scope, what the ACL grants the account and the
// rule that decided, so an operator can debug a config without a client.
// An account that is no static user is looked up in ldap_auth (its DN and
// labels); with --password-stdin the backends run the real login.
func check(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("auth check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var account optionalString
	var scopes repeated
	fs.Var(&account, "account", `account to check ("" for anonymous)`)
	fs.Var(&scopes, "scope", "scope such as repository:app:pull,push (repeatable, or space-separated)")
	service := fs.String("service", "", "service the token would be for")
	ipFlag := fs.String("ip", "", "client IP address, for ip rules")
	passwordStdin := fs.Bool("password-stdin", false, "read the account's password from stdin's first line and log in as the server would (ext_auth, ldap_auth bind)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 1 || !account.set {
		fmt.Fprintln(stderr, "usage: auth check CONFIG --account A [--scope S ...] [--service X] [--ip IP] [--password-stdin]")
		return 2
	}
	var ip netip.Addr
	if *ipFlag != "" {
		if ip, err = netip.ParseAddr(*ipFlag); err != nil {
			fmt.Fprintf(stderr, "auth check: bad --ip %q\n", *ipFlag)
			return 2
		}
		ip = ip.Unmap()
	}
	parsed, err := token.ParseScopes(scopes)
	if err != nil {
		fmt.Fprintln(stderr, "auth check:", err)
		return 2
	}
	cfg, err := authconfig.Load(pos[0])
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}

	var password *string
	if *passwordStdin {
		pw, err := readLine(stdin)
		if err != nil {
			fmt.Fprintln(stderr, "auth check: read password:", err)
			return 2
		}
		password = &pw
	}
	labels, err := identify(cfg, account.value, password, stdout)
	if err != nil {
		fmt.Fprintln(stderr, "auth check:", err)
		return 1
	}
	if cfg.Services != nil && !cfg.Services[*service] {
		fmt.Fprintf(stdout, "note: service %q is not in token.services: the server answers 400\n", *service)
	}
	fmt.Fprintf(stdout, "account %q, labels %s, service %q, ip %s\n", account.value, formatLabels(labels), *service, formatIP(ip))
	if len(parsed) == 0 {
		fmt.Fprintln(stdout, "no scope: a login (docker login) gets a token with empty access")
	}
	for _, sc := range parsed {
		req := acl.Request{
			Account: account.value, Labels: labels, Service: *service, IP: ip,
			Type: sc.Type, Name: sc.Name, Actions: sc.Actions,
		}
		d := cfg.Rules.Authorize(req)
		why := "no rule matched"
		switch {
		case d.Rule >= 0:
			why = "by rule " + cfg.Rules.Describe(d.Rule)
		case cfg.ExtAuthz != nil:
			d.Actions, why = extAuthorize(cfg, req)
		}
		fmt.Fprintf(stdout, "%s: granted [%s] %s\n", sc, strings.Join(d.Actions, ", "), why)
	}
	return 0
}

func formatLabels(labels map[string][]string) string {
	if len(labels) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strings.Join(labels[k], ",")
	}
	return strings.Join(parts, " ")
}

func formatIP(ip netip.Addr) string {
	if !ip.IsValid() {
		return "unknown"
	}
	return ip.String()
}

// parseInterspersed lets flags follow positional arguments, as in
// `auth check CONFIG --account A`; the flag package stops at the first
// positional argument.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// repeated collects every value of a repeatable flag.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, " ") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

// optionalString tells an absent flag from an empty value: --account ""
// means anonymous.
type optionalString struct {
	value string
	set   bool
}

func (o *optionalString) String() string     { return o.value }
func (o *optionalString) Set(v string) error { o.value, o.set = v, true; return nil }
