package main

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/wharf-registry/wharf/internal/slapd"
)

// ldapConns is the LDAP connections of both sides of row 14b: the token
// server's pool (max_connections, its default) and the direct client's.
const ldapConns = 8

// ldapFreePerSec sizes the directory: more first-time users than the
// token server can log in during row 14b.
const ldapFreePerSec = 4000

// ldapAuthConfigYAML is docker_auth's ldap_auth section against the
// bench's slapd: search as a service account, bind as the user. Anyone
// the directory accepts pulls bench/*.
const ldapAuthConfigYAML = `server:
  addr: "127.0.0.1:%d"
token:
  issuer: %q
  expiration: 900
  certificate: %q
  key: %q
  services: [%q]
ldap_auth:
  addr: %q
  base: %q
  filter: (uid=${account})
  bind_dn: cn=svc,dc=example,dc=org
  bind_password_file: %q
  max_connections: %d
acl:
  - match: {type: "repository", name: "bench/*"}
    actions: ["pull"]
`

// rowLDAP is row 14 (issue 15): the token server with ldap_auth against a
// real slapd. 14a: the same LDAP credentials again and again (answered
// from the token server's cache of successful checks) beside the same
// load with a static user (row 4's figure, taken again in this run). 14b:
// every login from a user not seen before, so each one searches and binds
// in the directory, beside a go-ldap client doing that search and bind
// directly with as many connections.
func (b *bench) rowLDAP() ([]result, error) {
	if _, err := slapd.Find(); err != nil {
		return []result{{row: "14", what: "token issuance with ldap_auth", target: "≥ 5,000 tokens/s cached",
			figure: "skipped: " + err.Error(), verdict: skipped}}, nil
	}
	users := max(2000, int(b.cfg.freshDur.Seconds()*ldapFreePerSec))
	dir := filepath.Join(b.dir, "slapd")
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, err
	}
	t := time.Now()
	d, err := slapd.Launch(dir, directoryLDIF(users))
	if err != nil {
		return nil, err
	}
	defer d.Stop()
	fmt.Fprintf(b.log, "  slapd with %d users loaded in %.1f s\n", users, time.Since(t).Seconds())
	svcPW := filepath.Join(b.dir, "ldap-svc.pw")
	if err := os.WriteFile(svcPW, []byte("svcpassword\n"), 0o600); err != nil {
		return nil, err
	}
	cfgFile := filepath.Join(b.dir, "auth-ldap.yml")
	auth, err := startProc(b.dir, "auth-ldap", filepath.Join(b.cfg.bin, "auth"), func(port int) ([]string, error) {
		cfg := fmt.Sprintf(ldapAuthConfigYAML, port, issuer, b.files.certFile, b.files.keyFile, service, d.Addr(), d.Base, svcPW, ldapConns)
		return []string{"serve", cfgFile}, os.WriteFile(cfgFile, []byte(cfg), 0o600)
	})
	if err != nil {
		return nil, err
	}
	defer auth.stop()
	b.perfExtra(auth, "14")

	login := func(base string, name, password string) func(*http.Client, int) error {
		u := base + "/auth?" + url.Values{"service": {service}, "scope": {"repository:bench/app:pull"}}.Encode()
		return func(c *http.Client, _ int) error {
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			req.SetBasicAuth(name, password)
			resp, err := c.Do(req)
			return expect(resp, err, http.StatusOK)
		}
	}
	if _, _, err := fetchToken(auth.URL(), &account{"cached", "cachedpw"}, false, "repository:bench/app:pull"); err != nil {
		return nil, fmt.Errorf("LDAP login: %v", err)
	}
	// CPU per login of the token server and of slapd: each serves one
	// side of a pair only, so its time over the pair divides by that
	// side's logins (warm-up included).
	perLogin := func(pid int, l *loader, during func()) time.Duration {
		before, n := cpuTime(pid), l.total.Load()
		during()
		return (cpuTime(pid) - before) / time.Duration(max(1, l.total.Load()-n))
	}
	cachedL := newLoader(b.cfg.conns, login(auth.URL(), "cached", "cachedpw"))
	var cached, static loadResult
	cachedCPU := perLogin(auth.Pid(), cachedL, func() {
		cached, static = paired(cachedL, newLoader(b.cfg.conns, login(b.auth.URL(), b.files.ci.name, b.files.ci.password)), warmup, b.cfg.dur, rounds)
	})
	if err := firstError(cached, static); err != nil {
		return nil, err
	}

	var next atomic.Int64
	fresh := newLoader(ldapConns, func(c *http.Client, w int) error {
		i := int(next.Add(1) - 1)
		if i >= users {
			return errStop
		}
		return login(auth.URL(), ldapUser(i), ldapPassword(i))(c, w)
	})
	direct := newDirectLDAP(d.Addr(), d.Base, users)
	defer direct.close()
	limit := newLoader(ldapConns, direct.login)
	var fig, lim loadResult
	slapdBefore, loginsBefore := cpuTime(d.Pid()), fresh.total.Load()+limit.total.Load()
	freshCPU := perLogin(auth.Pid(), fresh, func() { fig, lim = paired(fresh, limit, 0, b.cfg.freshDur, 4) })
	slapdCPU := (cpuTime(d.Pid()) - slapdBefore) / time.Duration(max(1, fresh.total.Load()+limit.total.Load()-loginsBefore))
	if err := firstError(fig, lim); err != nil {
		return nil, err
	}
	if int(next.Load()) >= users {
		return nil, fmt.Errorf("ran out of first-time LDAP users (%d): raise ldapFreePerSec", users)
	}
	r1 := result{
		row: "14a", what: fmt.Sprintf("token issuance, ldap_auth, same credentials (cached), %d connections", b.cfg.conns),
		figure:  rateP99(cached, "tokens/s"),
		limit:   rateP99(static, "tokens/s") + " static user (row 4's load)",
		ratio:   pct(cached.rate() / static.rate()),
		target:  "≥ 5,000 tokens/s",
		verdict: judge(cached.rate() >= tokenTarget),
		note: fmt.Sprintf("A real slapd (OpenLDAP %s, mdb, %d users) started by the bench on a loopback port; the token server searches as a service account and binds as the user, with a pool of %d connections. 14a: GET /auth with one LDAP user's Basic credentials, answered from the cache of successful checks, %.1f s in %d slices alternating with the same load on the static user of row 4 (bcrypt cost 10, cached); the token server used %d µs of CPU per cached LDAP login.",
			slapdVersion(d), users, ldapConns, b.cfg.dur.Seconds(), rounds, cachedCPU.Microseconds()),
	}
	r2 := result{
		row: "14b", what: fmt.Sprintf("token issuance, ldap_auth, first-time logins, %d connections", ldapConns),
		figure:  rateP99(fig, "logins/s"),
		limit:   rateP99(lim, "logins/s") + " slapd's own search+bind (go-ldap)",
		ratio:   pct(fig.rate() / lim.rate()),
		target:  "reported beside the limit",
		verdict: reported,
		note: fmt.Sprintf("Each login from a user never seen before (nothing cached), %.1f s in 4 slices alternating with the limit: %d go-ldap connections each binding as the service account, searching (uid=X) and binding as the entry found, what the token server does per login. CPU per first-time login: token server %d µs, slapd %d µs (averaged over both sides), on %d cores shared with the load generator.",
			b.cfg.freshDur.Seconds(), ldapConns, freshCPU.Microseconds(), slapdCPU.Microseconds(), runtime.NumCPU()),
	}
	return []result{r1, r2}, nil
}

func ldapUser(i int) string     { return fmt.Sprintf("u%06d", i) }
func ldapPassword(i int) string { return fmt.Sprintf("pw-%06d", i) }

// directoryLDIF is the service account, the cached user and n users.
func directoryLDIF(n int) string {
	var s strings.Builder
	s.WriteString("dn: cn=svc,dc=example,dc=org\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: svc\nuserPassword: svcpassword\n\n")
	s.WriteString("dn: uid=cached,dc=example,dc=org\nobjectClass: inetOrgPerson\nuid: cached\ncn: cached\nsn: c\nuserPassword: cachedpw\n\n")
	for i := range n {
		u := ldapUser(i)
		fmt.Fprintf(&s, "dn: uid=%s,dc=example,dc=org\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: u\nuserPassword: %s\n\n", u, u, u, ldapPassword(i))
	}
	return s.String()
}

// slapdVersion is the version slapd logs on start, or "" when not found.
func slapdVersion(d *slapd.Server) string {
	out := d.Output()
	if i := strings.Index(out, "OpenLDAP: slapd "); i >= 0 {
		if f := strings.Fields(out[i+len("OpenLDAP: slapd "):]); len(f) > 0 {
			return f[0]
		}
	}
	return "?"
}

// directLDAP is the limit of row 14b: a connection per worker, each login
// a service bind, a search and a bind as the user found.
type directLDAP struct {
	addr, base string
	users      int
	next       atomic.Int64
	conns      [ldapConns]*ldap.Conn
}

func newDirectLDAP(addr, base string, users int) *directLDAP {
	return &directLDAP{addr: addr, base: base, users: users}
}

func (l *directLDAP) login(_ *http.Client, w int) error {
	c := l.conns[w]
	if c == nil {
		var err error
		if c, err = ldap.DialURL("ldap://" + l.addr); err != nil {
			return err
		}
		l.conns[w] = c
	}
	i := int(l.next.Add(1)-1) % l.users
	if err := c.Bind("cn=svc,dc=example,dc=org", "svcpassword"); err != nil {
		return err
	}
	res, err := c.Search(ldap.NewSearchRequest(l.base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		2, 0, false, "(uid="+ldap.EscapeFilter(ldapUser(i))+")", []string{"dn"}, nil))
	if err != nil {
		return err
	}
	if len(res.Entries) != 1 {
		return fmt.Errorf("search for %s: %d entries", ldapUser(i), len(res.Entries))
	}
	return c.Bind(res.Entries[0].DN, ldapPassword(i))
}

func (l *directLDAP) close() {
	for _, c := range l.conns {
		if c != nil {
			c.Close()
		}
	}
}
