package integration

import (
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/wharf-registry/wharf/internal/testkit"
)

// The issuer and service the generated configs agree on.
const (
	testIssuer  = "wharf-integration-issuer"
	testService = "wharf-integration-registry"
)

// account is a user of the generated auth config.
type account struct{ name, password string }

var (
	// admin may do anything, including `registry:catalog:*`.
	admin = account{"admin", "admin-secret-1"}
	// puller may only pull, from every repository.
	puller = account{"puller", "puller-secret-1"}
)

// authConfigYAML is docker_auth's static-users + static-ACL format with the
// two additions of ours that a deployment sets: the kid format and the
// services tokens are issued for. The anonymous user "" exists but no rule
// grants it anything.
const authConfigYAML = `server:
  addr: "127.0.0.1:%d"
token:
  issuer: %q
  expiration: 900
  certificate: %q
  key: %q
  kid_format: %q
  services: [%q]
users:
  %q:
    password: %q
  %q:
    password: %q
  "": {}
acl:
  - match: {account: %q}
    actions: ["*"]
    comment: "admin may do anything, the catalog included"
  - match: {account: %q, type: "repository"}
    actions: ["pull"]
    comment: "puller reads every repository"
`

// tokenStack is cmd/auth and cmd/registry wired for the token flow.
type tokenStack struct {
	auth     *process
	registry *process
}

// startTokenStack writes a CA, a signing key of kind with a certificate the
// CA issued, and both configs, then starts the auth server and a registry
// that trusts the CA through rootcertbundle and sends clients to the auth
// server's realm.
func startTokenStack(t *testing.T, kind keyKind, kidFormat string) *tokenStack {
	t.Helper()
	dir := t.TempDir()
	ca := newAuthority(t)
	signer := newKey(t, kind)
	caFile := testkit.WriteFile(t, dir, "ca.pem", certPEM(ca.cert))
	// The certificate file carries the chain, leaf first, as most PKI tools
	// write it; the registry must still anchor on its own bundle.
	certFile := testkit.WriteFile(t, dir, "token.pem", certPEM(ca.issueSigning(t, signer.Public()), ca.cert))
	keyFile := testkit.WriteFile(t, dir, "token.key", keyPEM(t, signer, false))
	authYAML := func(port int) []byte {
		return fmt.Appendf(nil, authConfigYAML, port, testIssuer, certFile, keyFile, kidFormat, testService,
			admin.name, hash(t, admin.password), puller.name, hash(t, puller.password), admin.name, puller.name)
	}
	auth := start(t, server{
		name: "auth",
		bin:  authBin,
		args: func(port int) []string {
			return []string{"serve", testkit.WriteFile(t, dir, "auth_config.yml", authYAML(port))}
		},
		env: noEnv,
	})
	reg := startRegistry(t, fmt.Sprintf(`auth:
  token:
    realm: %q
    service: %q
    issuer: %q
    rootcertbundle: %q
`, auth.URL("http")+"/auth", testService, testIssuer, caFile))
	return &tokenStack{auth: auth, registry: reg}
}

// startRegistry starts cmd/registry with a config file: filesystem storage in
// a fresh directory, deletes enabled, and authYAML as its auth section ("" for
// none).
func startRegistry(t *testing.T, authYAML string) *process {
	t.Helper()
	return startRegistryAt(t, t.TempDir(), authYAML)
}

// startRegistryAt is startRegistry over an existing storage root.
func startRegistryAt(t *testing.T, root, authYAML string) *process {
	t.Helper()
	dir := t.TempDir()
	return start(t, server{
		name: "registry",
		bin:  registryBin,
		args: func(port int) []string {
			return []string{"serve", testkit.WriteFile(t, dir, "config.yml", []byte(registryConfig(root, port, authYAML)))}
		},
		env: noEnv,
	})
}

// registryConfig is a registry:2 config.yml that both our registry and the
// stock one read: filesystem storage at root, deletes enabled, 127.0.0.1:port,
// and authYAML as its auth section ("" for none).
func registryConfig(root string, port int, authYAML string) string {
	return fmt.Sprintf(`version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: %q
  delete:
    enabled: true
http:
  addr: "127.0.0.1:%d"
%s`, root, port, authYAML)
}

// noEnv gives a process an empty environment.
func noEnv(int) []string { return []string{} }

// hash is `htpasswd -B` at the lowest cost, so tests spend no time in bcrypt.
func hash(t *testing.T, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// htpasswdLine is what `htpasswd -Bbn user password` prints: the $2y$ prefix
// (Apache's name for the same algorithm) at cost 5.
func htpasswdLine(t *testing.T, user, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), 5)
	if err != nil {
		t.Fatal(err)
	}
	return user + ":" + strings.Replace(string(h), "$2a$", "$2y$", 1)
}

// substituteEnv rewrites the deployment-specific parts of environment lines
// (paths, addresses) and leaves everything else byte for byte as written.
// oldnew is old, new pairs as for strings.NewReplacer.
func substituteEnv(lines []string, oldnew ...string) []string {
	r := strings.NewReplacer(oldnew...)
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = r.Replace(l)
	}
	return out
}
