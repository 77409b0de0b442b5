package authserver

import (
	"crypto"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/crypto/bcrypt"

	"github.com/wharf-registry/wharf/internal/authconfig/authtest"
)

// Passwords of the seed config (blog post section 7.3, htpasswd -Bbn).
const (
	adminHash  = authtest.AdminHash  // adminpassword
	readerHash = authtest.ReaderHash // readerpassword
)

type keyPair = authtest.KeyPair

func writeKeyPair(t *testing.T, dir, name, kind string) keyPair {
	t.Helper()
	return authtest.WriteKeyPair(t, dir, name, kind)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	authtest.WriteFile(t, path, content)
}

func hashPassword(t *testing.T, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// fixture is a token server over real HTTP with its config on disk.
type fixture struct {
	dir    string
	config string
	kp     keyPair
	srv    *Server
	ts     *httptest.Server
}

// newFixture writes yaml (tabs become two spaces; KEY and CERT become the
// token key pair's paths) and serves it.
func newFixture(t *testing.T, yaml string) *fixture {
	t.Helper()
	return newFixtureKey(t, yaml, "p256")
}

// newSeedFixture serves the blog post's auth_config.yml (section 7.4) as
// written, its /ssl/server.{pem,key} replaced by a fresh RSA pair.
func newSeedFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureKey(t, authtest.SeedConfig(t, "CERT", "KEY"), "rsa")
}

func newFixtureKey(t *testing.T, yaml, kind string) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{dir: dir, config: filepath.Join(dir, "auth_config.yml"), kp: writeKeyPair(t, dir, "token", kind)}
	f.write(t, yaml)
	srv, err := New(f.config, nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f.srv = srv
	f.ts = httptest.NewServer(srv.Handler())
	t.Cleanup(f.ts.Close)
	return f
}

func (f *fixture) write(t *testing.T, yaml string) {
	t.Helper()
	text := strings.NewReplacer("\t", "  ", "CERT", f.kp.Cert, "KEY", f.kp.Key).Replace(yaml)
	writeFile(t, f.config, text)
}

// get performs GET path?query with optional Basic credentials (user "-"
// for none).
func (f *fixture) get(t *testing.T, query url.Values, user, pw string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.ts.URL+"/auth?"+query.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "-" {
		req.SetBasicAuth(user, pw)
	}
	return do(t, req)
}

func (f *fixture) post(t *testing.T, form url.Values) *http.Response {
	t.Helper()
	resp, err := http.PostForm(f.ts.URL+"/auth", form)
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	return resp
}

func do(t *testing.T, req *http.Request) *http.Response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readBody(t, resp)
	return resp
}

// readBody replaces resp.Body with a re-readable copy.
func readBody(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	resp.Body = io.NopCloser(strings.NewReader(string(b)))
	return b
}

func body(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	return readBody(t, resp)
}

// tokenBody decodes a 200 token response.
func tokenBody(t *testing.T, resp *http.Response) tokenResponse {
	t.Helper()
	b := body(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	var tr tokenResponse
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return tr
}

// accessClaims is the private part of a registry token.
type accessClaims struct {
	Access []struct {
		Type    string   `json:"type"`
		Class   string   `json:"class"`
		Name    string   `json:"name"`
		Actions []string `json:"actions"`
	} `json:"access"`
}

var allAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.ES256, jose.ES384, jose.ES512}

// verifyJose checks raw with go-jose, a JWT implementation independent of
// ours, against pub, and returns its claims.
func verifyJose(t *testing.T, raw string, pub crypto.PublicKey) (*josejwt.JSONWebToken, josejwt.Claims, accessClaims) {
	t.Helper()
	tok, err := josejwt.ParseSigned(raw, allAlgs)
	if err != nil {
		t.Fatalf("go-jose parse: %v", err)
	}
	var std josejwt.Claims
	var acc accessClaims
	if err := tok.Claims(pub, &std, &acc); err != nil {
		t.Fatalf("go-jose verify: %v", err)
	}
	return tok, std, acc
}

// grants maps "type:name" to the granted actions joined by ",".
func grants(acc accessClaims) map[string]string {
	m := map[string]string{}
	for _, a := range acc.Access {
		m[a.Type+":"+a.Name] = strings.Join(a.Actions, ",")
	}
	return m
}

func newHTTPTestServer(t *testing.T, srv *Server) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts
}
