//go:build systools

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wharf-registry/wharf/internal/authconfig/authtest"
	"github.com/wharf-registry/wharf/internal/testkit"
)

const checkLDIF = `dn: cn=svc,dc=example,dc=org
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: svc
userPassword: svcpassword

dn: uid=alice,dc=example,dc=org
objectClass: inetOrgPerson
uid: alice
cn: Alice
sn: A
userPassword: alicepw

dn: cn=Developers,dc=example,dc=org
objectClass: groupOfNames
cn: Developers
member: uid=alice,dc=example,dc=org
`

// auth check shows what LDAP says about an account (its entry and
// labels), the rule the labels lead to, and, with --password-stdin,
// whether the directory accepts the password; ext_authz decides what no
// rule matched, as in the server.
func TestCheckShowsLDAPLabelsAndTheDecidingRule(t *testing.T) {
	d := testkit.StartSlapd(t, checkLDIF)
	dir := t.TempDir()
	kp := authtest.WriteKeyPair(t, dir, "token", "p256")
	pw := testkit.WriteFile(t, dir, "svc.pw", []byte("svcpassword"))
	authz := testkit.WriteFile(t, dir, "authz.sh", []byte("#!/bin/sh\ngrep -q '\"Name\":\"ext/ok\"' && exit 0\nexit 1\n"))
	if err := os.Chmod(authz, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "auth_config.yml")
	authtest.WriteFile(t, cfg, strings.ReplaceAll(`server: {addr: ":5001"}
token: {issuer: "Auth Service", expiration: 900, certificate: `+kp.Cert+`, key: `+kp.Key+`}
ldap_auth:
	addr: `+d.Addr()+`
	base: dc=example,dc=org
	filter: (uid=${account})
	bind_dn: cn=svc,dc=example,dc=org
	bind_password_file: `+pw+`
	labels:
		groups: {attribute: memberOf, parse_cn: true, lower_case: true}
ext_authz:
	command: `+authz+`
acl:
	- match: {name: "${labels:groups}/*"}
	  actions: [pull]
`, "\t", "  "))
	if code, stdout, stderr := runAuth(t, "", "validate", cfg); code != 0 ||
		!strings.Contains(stdout, "ldap_auth: ldap://"+d.Addr()) || !strings.Contains(stdout, "ext_authz: "+authz) {
		t.Errorf("validate: exit %d\n%s%s", code, stdout, stderr)
	}
	tests := []struct {
		name, stdin string
		args        []string
		want        []string
	}{
		{"labels from the directory, no password", "", []string{"--account", "alice", "--scope", "repository:developers/app:pull,push"}, []string{
			`ldap_auth ldap://` + d.Addr() + `: "alice" is uid=alice,dc=example,dc=org (password not checked`,
			`account "alice", labels groups=developers`,
			`repository:developers/app:pull,push: granted [pull] by rule #0 {name: "${labels:groups}/*"} -> [pull]`}},
		{"the real login with the password", "alicepw\n", []string{"--account", "alice", "--password-stdin"}, []string{
			`password of "alice" accepted`, "labels groups=developers"}},
		{"a wrong password", "nope\n", []string{"--account", "alice", "--password-stdin"}, []string{
			`refuses the password of "alice"`, "the server answers 401"}},
		{"unknown in the directory", "", []string{"--account", "mallory", "--scope", "repository:developers/app:pull"}, []string{
			`no user "mallory"`, `"mallory" is not in users nor known to a backend`, "granted [] no rule matched; decided by ext_authz"}},
		{"ext_authz decides the rest", "", []string{"--account", "alice", "--scope", "repository:ext/ok:pull,push"}, []string{
			"repository:ext/ok:pull,push: granted [pull, push] no rule matched; decided by ext_authz " + authz}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runAuth(t, tt.stdin, append([]string{"check", cfg}, tt.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("output lacks %q:\n%s", w, stdout)
				}
			}
		})
	}

	// The directory down: exit 1 naming it, as the server's 503 would.
	d.Stop()
	code, _, stderr := runAuth(t, "", "check", cfg, "--account", "alice")
	if code != 1 || !strings.Contains(stderr, "ldap_auth ldap://"+d.Addr()) || !strings.Contains(stderr, "503") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}
