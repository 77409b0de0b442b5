package interop

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/wharf-registry/wharf/internal/testkit"
)

// The registry settings every token is issued for and verified with.
const (
	issuer  = "wharf interop"
	service = "registry.interop"
	realm   = "http://localhost:5001/auth"
)

// Users of the auth config below; the passwords are test values.
var passwords = map[string]string{"admin": "admin-pass", "reader": "reader-pass"}

// certMode is which certificate, if any, auth's token.certificate names;
// with one, every token carries it in x5c.
type certMode string

const (
	noCert     certMode = "no cert"     // no x5c: the kid alone names the key
	caIssued   certMode = "CA-issued"   // x5c is the leaf; registries trust the CA
	selfSigned certMode = "self-signed" // the docker_auth habit: one certificate is both x5c and rootcertbundle
)

// authSetup is one way to run our auth: which key signs, in which kid
// format, with which certificate.
type authSetup struct {
	pki       *tokenPKI
	kidFormat string // token.kid_format: libtrust or jwk-thumbprint
	cert      certMode
}

// x5c reports whether the setup's tokens carry a certificate chain.
func (s authSetup) x5c() bool { return s.cert != noCert }

// bundle is the rootcertbundle a registry trusting s is given: the CA for
// CA-issued certificates, else the key's self-signed certificate.
func (s authSetup) bundle() string {
	if s.cert == caIssued {
		return s.pki.ca
	}
	return s.pki.self
}

// startAuth runs the built cmd/auth with a config for s: admin may do
// everything, reader may pull "app", anonymous requests get nothing.
func startAuth(t *testing.T, s authSetup) *testkit.Process {
	t.Helper()
	hash := func(user string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(passwords[user]), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return string(h)
	}
	cert := ""
	switch s.cert {
	case caIssued:
		cert = fmt.Sprintf("  certificate: %q\n", s.pki.leaf)
	case selfSigned:
		cert = fmt.Sprintf("  certificate: %q\n", s.pki.self)
	}
	return testkit.Start(t, testkit.Spec{
		Name: "auth",
		Bin:  authBin,
		Args: func(port int) []string {
			cfg := fmt.Sprintf(`server:
  addr: "127.0.0.1:%d"
token:
  issuer: %q
  expiration: 900
  key: %q
%s  kid_format: %q
  services: [%q]
users:
  admin: {password: %q}
  reader: {password: %q}
  "": {}
acl:
  - match: {account: admin}
    actions: ["*"]
  - match: {account: reader, type: repository, name: app}
    actions: ["pull"]
`, port, issuer, s.pki.key, cert, s.kidFormat, service, hash("admin"), hash("reader"))
			return []string{testkit.WriteFile(t, t.TempDir(), "auth.yml", []byte(cfg))}
		},
	})
}

// issueToken asks auth for tc's token the way `docker` does (GET realm
// with Basic credentials, none when anonymous; no scope and
// offline_token=true for docker login), or, for an oauth2 case, the way
// containerd does (POST form, grant_type=password).
func issueToken(t *testing.T, auth *testkit.Process, tc tokenCase) string {
	t.Helper()
	var req *http.Request
	var err error
	switch {
	case tc.oauth2:
		form := url.Values{"grant_type": {"password"}, "username": {tc.user}, "password": {passwords[tc.user]},
			"service": {service}, "scope": {strings.Join(tc.scopes, " ")}, "client_id": {"interop"}}
		req, err = http.NewRequest(http.MethodPost, auth.URL("http")+"/auth", strings.NewReader(form.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	default:
		q := url.Values{"service": {service}, "scope": tc.scopes}
		if len(tc.scopes) == 0 {
			q = url.Values{"service": {service}, "account": {tc.user}, "client_id": {"docker"}, "offline_token": {"true"}}
		}
		req, err = http.NewRequest(http.MethodGet, auth.URL("http")+"/auth?"+q.Encode(), nil)
		if err == nil && tc.user != "" {
			req.SetBasicAuth(tc.user, passwords[tc.user])
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	getJSON(t, req, &body)
	if body.AccessToken == "" || (body.Token != "" && body.Token != body.AccessToken) {
		t.Fatalf("%s %s: token %q, access_token %q: want one JWT in both", req.Method, req.URL, body.Token, body.AccessToken)
	}
	return body.AccessToken
}

// saveJWKS stores auth's /.well-known/jwks.json in a file, as registry:3's
// auth.token.jwks option reads a file.
func saveJWKS(t *testing.T, auth *testkit.Process) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, auth.URL("http")+"/.well-known/jwks.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	var raw json.RawMessage
	getJSON(t, req, &raw)
	return testkit.WriteFile(t, t.TempDir(), "jwks.json", raw)
}

// getJSON sends req, requires a 200 and decodes the JSON body into v.
func getJSON(t *testing.T, req *http.Request, v any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s %s", req.Method, req.URL, strconv.Itoa(resp.StatusCode), data)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v in %s", req.URL, err, data)
	}
}
