package authconfig

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/wharf-registry/wharf/internal/authconfig/authtest"
	"github.com/wharf-registry/wharf/internal/yamlconf"
	"github.com/wharf-registry/wharf/pkg/acl"
	"github.com/wharf-registry/wharf/pkg/token"
)

const (
	adminHash  = authtest.AdminHash
	readerHash = authtest.ReaderHash
)

func TestSeedConfigLoadsAsWritten(t *testing.T) {
	dir := t.TempDir()
	keyPath, certPath := writeKeyPair(t, dir, "server", "rsa")
	path := filepath.Join(dir, "auth_config.yml")
	writeFile(t, path, authtest.SeedConfig(t, certPath, keyPath))

	c, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.Server.Addr != ":5001" || c.Server.Net != "tcp" || c.TLS == nil {
		t.Errorf("server: addr %q net %q tls %v", c.Server.Addr, c.Server.Net, c.TLS != nil)
	}
	if c.Token.Issuer != "Auth Service" || c.Expiration != 900*time.Second {
		t.Errorf("token: issuer %q expiration %v", c.Token.Issuer, c.Expiration)
	}
	// docker_auth signs with the server's pair when the token section has none.
	if len(c.Keys) != 1 || len(c.Keys[0].Chain) != 1 || c.Keys[0].Alg != "RS256" {
		t.Fatalf("keys: %+v", c.Keys)
	}
	if c.KeyIDFormat != token.KeyIDLibtrust {
		t.Errorf("kid format %q, want libtrust by default", c.KeyIDFormat)
	}
	if !c.Anonymous() {
		t.Error(`the user "" should allow anonymous access`)
	}
	for user, pw := range map[string]string{"admin": "adminpassword", "reader": "readerpassword"} {
		u := c.Users[user]
		if u == nil || bcrypt.CompareHashAndPassword([]byte(u.Password), []byte(pw)) != nil {
			t.Errorf("user %s: password from the blog does not verify", user)
		}
	}
	if c.Rules == nil || c.Rules.Len() != 2 {
		t.Fatalf("acl: %v", c.Rules)
	}
	d := c.Rules.Authorize(acl.Request{Account: "reader", Type: "repository", Name: "nginx", Actions: []string{"pull", "push"}})
	if fmt.Sprint(d.Actions) != "[pull]" || d.Rule != 1 {
		t.Errorf("reader on nginx: %+v", d)
	}
	if c.RefreshLifetime != 30*24*time.Hour {
		t.Errorf("refresh lifetime %v, want 30 days by default", c.RefreshLifetime)
	}
	if c.Services != nil || !hasWarning(c, "token.services") {
		t.Errorf("services %v, warnings %q: want any service accepted with a warning", c.Services, c.Warnings)
	}
}

func hasWarning(c *Config, sub string) bool {
	for _, w := range c.Warnings {
		if strings.Contains(w, sub) {
			return true
		}
	}
	return false
}

// base is a valid config; cases below edit copies of it. "#!" marks the
// line a problem must be reported on.
const base = `server:
	addr: ":5001"
token:
	issuer: "Auth Service"
	expiration: 900
	certificate: CERT
	key: KEY
users:
	admin:
		password: "` + adminHash + `"
	"": {}
acl:
	- match: {account: "admin"}
	  actions: ["*"]
`

func TestProblemsNameFileLineAndField(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string // "field: message start", found right after "file:line: "
	}{
		{"typo in an acl match key", strings.Replace(base, `{account: "admin"}`, `{acount: "admin"} #!`, 1),
			`acl[0].match.acount: unknown field (did you mean "account"?)`},
		{"typo in a top-level section", strings.Replace(base, "users:", "user: #!\n\tx: {}\nusers:", 1),
			`user: unknown field (did you mean "users"?)`},
		{"acl entry without actions", base + "\t- match: {account: reader} #!\n",
			`acl[1]`},
		{"acl entry without match", base + "\t- actions: [pull] #!\n",
			`acl[1]`},
		{"bad regex", base + "\t- match:\n\t\t\tname: \"/(/\" #!\n\t  actions: [pull]\n",
			`acl[1].match.name`},
		{"bad CIDR in acl", base + "\t- match:\n\t\t\tip: \"10.0.0.0/33\" #!\n\t  actions: [pull]\n",
			`acl[1].match.ip`},
		{"plaintext password", strings.Replace(base, `password: "`+adminHash+`"`, `password: "hunter2" #!`, 1),
			`users.admin.password: not a bcrypt hash`},
		{"md5 htpasswd hash", strings.Replace(base, `password: "`+adminHash+`"`, `password: "$apr1$x$y" #!`, 1),
			`users.admin.password: not a bcrypt hash`},
		{"truncated bcrypt hash", strings.Replace(base, `password: "`+adminHash+`"`, `password: "`+adminHash[:50]+`" #!`, 1),
			`users.admin.password: malformed bcrypt hash`},
		{"user without password", strings.Replace(base, "\tadmin:\n\t\tpassword: \""+adminHash+"\"", "\tadmin: {} #!", 1),
			`users.admin.password: required`},
		{"anonymous with a password", strings.Replace(base, `"": {}`, `"": {password: "`+readerHash+`"} #!`, 1),
			`users."".password: the anonymous user "" takes no password`},
		{"missing key file", strings.Replace(base, "key: KEY", "key: /nonexistent/auth.key #!", 1),
			`token.key: open /nonexistent/auth.key: no such file or directory`},
		{"certificate of another key", strings.Replace(base, "certificate: CERT", "certificate: OTHERCERT #!", 1),
			`token.certificate:`},
		{"key file that is not a key", strings.Replace(base, "key: KEY", "key: CERT #!", 1),
			`token.key:`},
		{"no signing key", strings.NewReplacer("\tcertificate: CERT\n", "", "\tkey: KEY\n", "", "token:", "token: #!").Replace(base),
			`token.key: required`},
		{"zero expiration", strings.Replace(base, "expiration: 900", "expiration: 0 #!", 1),
			`token.expiration: must be a positive number of seconds`},
		{"expiration not a number", strings.Replace(base, "expiration: 900", "expiration: 15m #!", 1),
			`cannot unmarshal`},
		{"missing issuer", strings.Replace(base, `issuer: "Auth Service"`, `issuer: "" #!`, 1),
			`token.issuer: required`},
		{"unknown kid format", strings.Replace(base, "expiration: 900", "expiration: 900\n\tkid_format: x5t #!", 1),
			`token.kid_format: unknown key id format "x5t"`},
		{"docker_auth's thumbprint switch against ours", strings.Replace(base, "expiration: 900", "expiration: 900\n\tkid_format: libtrust\n\tdisable_legacy_key_id: true #!", 1),
			`token.disable_legacy_key_id: contradicts token.kid_format "libtrust"`},
		{"bad trusted proxy", strings.Replace(base, `addr: ":5001"`, "addr: \":5001\"\n\ttrusted_proxies: [10.0.0.1/40] #!", 1),
			`server.trusted_proxies[0]: bad CIDR "10.0.0.1/40"`},
		{"bad CORS origin", strings.Replace(base, `addr: ":5001"`, "addr: \":5001\"\n\tcors: {allowed_origins: [\"https://ui.example.com/path\"]} #!", 1),
			`server.cors.allowed_origins[0]: bad origin`},
		{"relative path prefix", strings.Replace(base, `addr: ":5001"`, "addr: \":5001\"\n\tpath_prefix: auth #!", 1),
			`server.path_prefix: must be an absolute path`},
		{"unsupported backend", base + "mongo_auth: #!\n\tdial_info: {addrs: [mongo:27017]}\n",
			`mongo_auth: not supported by this server`},
		{"ldap filter without the account", base + "ldap_auth:\n\taddr: ldap.example.com:636\n\tfilter: (uid=bob) #!\n",
			`ldap_auth.filter: required, with ${account} in it`},
		{"ldap tls mode", base + "ldap_auth:\n\taddr: ldap.example.com:389\n\ttls: yes #!\n\tfilter: (uid=${account})\n",
			`ldap_auth.tls: must be always, starttls or none`},
		{"ldap addr as a URL", base + "ldap_auth:\n\taddr: ldap://ldap.example.com #!\n\tfilter: (uid=${account})\n",
			`ldap_auth.addr: must be host:port`},
		{"ldap bind_dn without its password", base + "ldap_auth:\n\taddr: ldap.example.com:389\n\tfilter: (uid=${account})\n\tbind_dn: cn=svc,dc=x\n\tbind_password_file: /nonexistent/pw #!\n",
			`ldap_auth.bind_password_file: open /nonexistent/pw`},
		{"ldap label without attribute", base + "ldap_auth:\n\taddr: ldap.example.com:389\n\tfilter: (uid=${account})\n\tlabels:\n\t\tgroups: {parse_cn: true} #!\n",
			`ldap_auth.labels.groups.attribute: required`},
		{"ext_auth command missing", base + "ext_auth:\n\tcommand: /nonexistent/prog #!\n",
			`ext_auth.command: exec: "/nonexistent/prog"`},
		{"unsupported letsencrypt", strings.Replace(base, `addr: ":5001"`, "addr: \":5001\"\n\tletsencrypt: #!\n\t\temail: a@example.com", 1),
			`server.letsencrypt: not supported by this server`},
		{"empty services list", strings.Replace(base, "expiration: 900", "expiration: 900\n\tservices: [] #!", 1),
			`token.services: is empty`},
		{"negative refresh expiration", strings.Replace(base, "expiration: 900", "expiration: 900\n\trefresh_expiration: -1 #!", 1),
			`token.refresh_expiration: must be 0 (disabled)`},
		{"bad throttle window", base + "throttle:\n\twindow: 0 #!\n",
			`throttle.window: must be a positive number of seconds`},
		{"acl absent", strings.Split(base, "acl:")[0] + "#!\n",
			`acl: required`},
		{"TLS key without certificate", strings.Replace(base, `addr: ":5001"`, "addr: \":5001\"\n\tkey: KEY #!", 1),
			`server.key: needs server.certificate too`},
		{"unknown TLS version", strings.Replace(base, `addr: ":5001"`, "addr: \":5001\"\n\ttls_min_version: TLS14 #!", 1),
			`server.tls_min_version: unknown TLS version "TLS14"`},
	}
	dir := t.TempDir()
	keyPath, certPath := writeKeyPair(t, dir, "token", "p256")
	_, otherCert := writeKeyPair(t, dir, "other", "p256")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := strings.NewReplacer("OTHERCERT", otherCert, "CERT", certPath, "KEY", keyPath).Replace(tt.yaml)
			path := writeConfig(t, t.TempDir(), text)
			_, err := Load(path)
			var ps yamlconf.Problems
			if !errors.As(err, &ps) {
				t.Fatalf("Load: %v, want yamlconf.Problems", err)
			}
			line := markedLine(t, text)
			want := fmt.Sprintf("%s:%d: %s", path, line, tt.want)
			if !strings.Contains(err.Error(), want) {
				t.Errorf("problems:\n%v\nwant one starting %q", err, want)
			}
		})
	}
}

// markedLine returns the 1-based line holding "#!", or the last line of the
// text when only "#!" alone ends it (problems about absent sections point
// at their parent).
func markedLine(t *testing.T, text string) int {
	t.Helper()
	for i, l := range strings.Split(text, "\n") {
		if strings.Contains(l, "#!") {
			if strings.TrimSpace(l) == "#!" {
				return 1 // an absent top-level key is reported at the document's first line
			}
			return i + 1
		}
	}
	t.Fatal("test YAML has no #! marker")
	return 0
}

func TestPlaintextPasswordIsNeverEchoed(t *testing.T) {
	dir := t.TempDir()
	keyPath, certPath := writeKeyPair(t, dir, "token", "p256")
	text := strings.NewReplacer("CERT", certPath, "KEY", keyPath, adminHash, "correct horse battery staple").Replace(base)
	_, err := Load(writeConfig(t, dir, text))
	if err == nil || strings.Contains(err.Error(), "correct horse") {
		t.Fatalf("want a problem that does not repeat the password, got %v", err)
	}
}

func TestEveryProblemIsReportedAtOnce(t *testing.T) {
	text := `server: {}
token:
	expiration: -5
	kid_format: nope
users:
	bob: {password: plain}
acl:
	- match: {acount: x}
	  actions: [pull]
`
	_, err := Load(writeConfig(t, t.TempDir(), text))
	var ps yamlconf.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Load: %v", err)
	}
	// The unknown key and every validation problem of what did decode, in
	// one report: no fix-one-rerun rounds.
	fields := map[string]bool{}
	for _, p := range ps {
		fields[p.Field] = true
	}
	for _, f := range []string{"acl[0].match.acount", "server.addr", "token.issuer", "token.expiration", "token.kid_format", "token.key", "users.bob.password"} {
		if !fields[f] {
			t.Errorf("no problem for %s in:\n%v", f, err)
		}
	}
}
