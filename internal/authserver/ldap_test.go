//go:build systools

package authserver

import (
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wharf-registry/wharf/internal/testkit"
)

// directoryLDIF is a small company: a service account, people (one of
// them twice, in two branches), and groups whose members the memberof
// overlay marks with memberOf.
const directoryLDIF = `dn: ou=people,dc=example,dc=org
objectClass: organizationalUnit
ou: people

dn: ou=contractors,dc=example,dc=org
objectClass: organizationalUnit
ou: contractors

dn: ou=groups,dc=example,dc=org
objectClass: organizationalUnit
ou: groups

dn: cn=svc,dc=example,dc=org
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: svc
userPassword: svcpassword

dn: uid=alice,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: alice
cn: Alice
sn: A
mail: Alice@Example.org
userPassword: alicepw

dn: uid=bob,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: bob
cn: Bob
sn: B
userPassword: bobpw

dn: uid=carol,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: carol
cn: Carol
sn: C
userPassword: carolpw

dn: uid=twin,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: twin
cn: Twin
sn: T
userPassword: twinpw

dn: uid=twin,ou=contractors,dc=example,dc=org
objectClass: inetOrgPerson
uid: twin
cn: Twin
sn: T
userPassword: twinpw

dn: cn=Developers,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: Developers
member: uid=alice,ou=people,dc=example,dc=org

dn: cn=Ops,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: Ops
member: uid=alice,ou=people,dc=example,dc=org
member: uid=bob,ou=people,dc=example,dc=org
`

// ldapConfig is a docker_auth config using ldap_auth as its documentation
// shows, with static users beside it; ADDR, TLS and CA are filled in.
const ldapConfig = `server: {addr: ":5001"}
token: {issuer: "Auth Service", expiration: 900, certificate: CERT, key: KEY}
users:
	admin: {password: "` + adminHash + `"}
ldap_auth:
	addr: ADDR
	tls: TLS
	ca_certificate: CA
	base: dc=example,dc=org
	filter: "(&(objectClass=inetOrgPerson)(uid=${account}))"
	bind_dn: cn=svc,dc=example,dc=org
	bind_password_file: PWFILE
	timeout: 1
	labels:
		groups: {attribute: memberOf, parse_cn: true, lower_case: true}
		mail: {attribute: mail, lower_case: true}
acl:
	- match: {account: admin}
	  actions: ["*"]
	- match: {labels: {groups: developers}, name: "dev/*"}
	  actions: ["*"]
	- match: {name: "team/${labels:groups}/*"}
	  actions: [pull]
	- match: {labels: {mail: "*@example.org"}, name: "mail/*"}
	  actions: [pull]
	- match: {account: "/.+/", name: "${account}/*"}
	  actions: [pull, push]
`

// ldapFixture serves ldapConfig against addr with the given tls mode.
func ldapFixture(t *testing.T, d *testkit.Slapd, addr, tlsMode string) (*fixture, *testkit.SyncBuffer) {
	t.Helper()
	pw := testkit.WriteFile(t, t.TempDir(), "svc.pw", []byte("svcpassword\n"))
	cfg := strings.NewReplacer("ADDR", addr, "TLS", tlsMode, "CA", d.CAFile, "PWFILE", pw).Replace(ldapConfig)
	return newLoggedFixture(t, cfg)
}

// The same checks as for static users, against a real OpenLDAP.
var ldapLogins = []loginCase{
	{"right password, group label grants", "alice", "alicepw", "repository:dev/app:pull,push", 200, "pull,push"},
	{"${labels:groups} placeholder, first group", "alice", "alicepw", "repository:team/developers/x:pull,push", 200, "pull"},
	{"${labels:groups} placeholder, second group", "bob", "bobpw", "repository:team/ops/x:pull", 200, "pull"},
	{"no group, no label grant", "bob", "bobpw", "repository:dev/app:pull", 200, ""},
	{"other group's namespace", "bob", "bobpw", "repository:team/developers/x:pull", 200, ""},
	{"lower_case on an attribute label", "alice", "alicepw", "repository:mail/x:pull", 200, "pull"},
	{"${account} for an LDAP user", "carol", "carolpw", "repository:carol/x:pull,push", 200, "pull,push"},
	{"wrong password", "alice", "wrong", "repository:dev/app:pull", 401, ""},
	{"unknown user", "mallory", "alicepw", "repository:dev/app:pull", 401, ""},
	{"empty password never binds", "alice", "", "repository:dev/app:pull", 401, ""},
	{"filter injection finds nobody", "*)(uid=*", "alicepw", "repository:dev/app:pull", 401, ""},
	{"a wildcard is a literal name", "alic*", "alicepw", "repository:dev/app:pull", 401, ""},
	{"two entries for one name: refused", "twin", "twinpw", "repository:twin/x:pull", 401, ""},
	{"static users first: admin's wrong password is not tried in LDAP", "admin", "alicepw", "repository:x:pull", 401, ""},
	{"static user", "admin", "adminpassword", "repository:x:pull", 200, "pull"},
}

func TestLDAPLoginsAndGroupLabels(t *testing.T) {
	d := testkit.StartSlapd(t, directoryLDIF)
	f, _ := ldapFixture(t, d, d.Addr(), "none")
	runLogins(t, f, ldapLogins)

	// The OAuth2 form containerd and go-containerregistry use.
	form := url.Values{"grant_type": {"password"}, "username": {"bob"}, "password": {"bobpw"},
		"service": {"registry"}, "scope": {"repository:team/ops/x:pull"}}
	if resp := f.post(t, form); resp.StatusCode != 200 || !strings.Contains(string(body(t, resp)), `"scope":"repository:team/ops/x:pull"`) {
		t.Errorf("POST password grant: %d %s", resp.StatusCode, body(t, resp))
	}
	form.Set("password", "wrong")
	if resp := f.post(t, form); resp.StatusCode != 401 {
		t.Errorf("POST with a wrong password: %d", resp.StatusCode)
	}
}

func TestLDAPOverStartTLSAndLDAPS(t *testing.T) {
	d := testkit.StartSlapd(t, directoryLDIF)
	for _, mode := range []struct{ name, addr, tls string }{
		{"starttls", d.Addr(), "starttls"},
		{"ldaps", d.TLSAddr(), "always"},
	} {
		t.Run(mode.name, func(t *testing.T) {
			f, _ := ldapFixture(t, d, mode.addr, mode.tls)
			runLogins(t, f, ldapLogins[:2])
			runLogins(t, f, []loginCase{{"wrong password", "bob", "x", "repository:a:pull", 401, ""}})
		})
	}
	// A server whose certificate the CA does not vouch for is refused,
	// which also shows that both modes really speak TLS.
	other := testkit.StartSlapd(t, "")
	for _, mode := range []struct{ name, addr, tls string }{
		{"starttls with an untrusted certificate", d.Addr(), "starttls"},
		{"ldaps with an untrusted certificate", d.TLSAddr(), "always"},
	} {
		t.Run(mode.name, func(t *testing.T) {
			f, logs := ldapFixture(t, d, mode.addr, mode.tls)
			f.write(t, strings.Replace(readRec(t, filepath.Dir(f.config), "auth_config.yml"), d.CAFile, other.CAFile, 1))
			if err := f.srv.Reload(); err != nil {
				t.Fatal(err)
			}
			runLogins(t, f, []loginCase{{"refused", "alice", "alicepw", "repository:dev/app:pull", 503, ""}})
			if !strings.Contains(logs.String(), "certificate signed by unknown authority") {
				t.Errorf("log does not say why:\n%s", logs)
			}
		})
	}
}

// initial_bind_as_user: no service account; the user's own bind (bind_dn
// with ${account}, DN-escaped) comes first and the search runs as the user.
func TestLDAPInitialBindAsUser(t *testing.T) {
	d := testkit.StartSlapd(t, directoryLDIF)
	cfg := strings.NewReplacer("ADDR", d.Addr(), "TLS", "none", "CA", d.CAFile,
		"\tbind_dn: cn=svc,dc=example,dc=org\n\tbind_password_file: PWFILE\n",
		"\tbind_dn: uid=${account},ou=people,dc=example,dc=org\n\tinitial_bind_as_user: true\n").Replace(ldapConfig)
	f, _ := newLoggedFixture(t, cfg)
	runLogins(t, f, []loginCase{
		{"right password, labels read as the user", "alice", "alicepw", "repository:dev/app:pull", 200, "pull"},
		{"wrong password", "alice", "wrong", "repository:dev/app:pull", 401, ""},
		{"unknown user", "mallory", "alicepw", "repository:dev/app:pull", 401, ""},
		{"a DN in the account name finds nobody", "alice,ou=people,dc=example,dc=org", "alicepw", "repository:dev/app:pull", 401, ""},
		{"empty password never binds", "bob", "", "repository:bob/x:pull", 401, ""},
	})
}
