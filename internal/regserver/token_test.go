package regserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/wharf-registry/wharf/internal/regconfig"
	"github.com/wharf-registry/wharf/pkg/storage"
	"github.com/wharf-registry/wharf/pkg/token"
)

const (
	testIssuer  = "Auth Service"
	testService = "Docker registry"
	testRealm   = "https://auth.example/auth"
)

// tokenCA is a test certificate authority and a signing key it certified,
// as a token server's rootcertbundle and key would be.
type tokenCA struct {
	bundle string // path of the CA certificate PEM
	key    *token.Key
}

func newTokenCA(t testing.TB) *tokenCA {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test token CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "token signer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(leafDER)
	key, err := token.NewKey(leafKey, []*x509.Certificate{leaf, ca}, token.KeyIDLibtrust)
	if err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(t.TempDir(), "bundle.pem")
	if err := os.WriteFile(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		t.Fatal(err)
	}
	return &tokenCA{bundle: bundle, key: key}
}

// sign issues a token for subject granting access, valid for a minute.
func (ca *tokenCA) sign(t *testing.T, subject string, access ...token.ResourceActions) string {
	t.Helper()
	return ca.signClaims(t, subject, time.Now().Add(time.Minute), access...)
}

func (ca *tokenCA) signClaims(t *testing.T, subject string, exp time.Time, access ...token.ResourceActions) string {
	t.Helper()
	return ca.signPull(t, subject, exp, nil, access...)
}

// signPull is signClaims with the pull rules of our token server's
// catalog tokens (nil: no such claim).
func (ca *tokenCA) signPull(t testing.TB, subject string, exp time.Time, pull *[]token.PullRule, access ...token.ResourceActions) string {
	t.Helper()
	if access == nil {
		access = []token.ResourceActions{}
	}
	now := time.Now()
	raw, err := ca.key.Sign(&token.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: testIssuer, Subject: subject, Audience: jwt.ClaimStrings{testService},
			ExpiresAt: jwt.NewNumericDate(exp), IssuedAt: jwt.NewNumericDate(now.Add(-time.Minute)),
			NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)), ID: token.NewJTI(),
		},
		Access: access,
		Pull:   pull,
	})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func grant(typ, name string, actions ...string) token.ResourceActions {
	return token.ResourceActions{Type: typ, Name: name, Actions: actions}
}

func newTokenRegistry(t testing.TB, ca *tokenCA, realm string) *testRegistry {
	return newRegistry(t, func(c *regconfig.Config) {
		c.Auth.Token = &regconfig.TokenAuth{Realm: realm, Service: testService, Issuer: testIssuer, RootCertBundle: ca.bundle}
	})
}

func bearerHeader(tok string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + tok}
}

func TestTokenChallengesAreExact(t *testing.T) {
	ca := newTokenCA(t)
	tr := newTokenRegistry(t, ca, testRealm)
	pullApp := ca.sign(t, "reader", grant("repository", "app", "pull"))
	expired := ca.signClaims(t, "reader", time.Now().Add(-2*time.Minute), grant("repository", "app", "pull"))
	const base = `Bearer realm="https://auth.example/auth",service="Docker registry"`
	tests := []struct {
		name string
		req  request
		want string
	}{
		{"base without token", request{method: "GET", path: "/v2/"}, base},
		{"pull without token", request{method: "GET", path: "/v2/app/manifests/v1"}, base + `,scope="repository:app:pull"`},
		{"push without token", request{method: "PUT", path: "/v2/app/manifests/v1"}, base + `,scope="repository:app:pull,push"`},
		{"delete without token", request{method: "DELETE", path: "/v2/app/manifests/v1"}, base + `,scope="repository:app:delete"`},
		{"catalog without token", request{method: "GET", path: "/v2/_catalog"}, base + `,scope="registry:catalog:*"`},
		{"mount names both repositories", request{method: "POST", path: "/v2/app/blobs/uploads/?mount=sha256:" + strings.Repeat("a", 64) + "&from=bob/src"},
			base + `,scope="repository:app:pull,push repository:bob/src:pull"`},
		{"basic credentials are no token", request{method: "GET", path: "/v2/app/tags/list", header: map[string]string{"Authorization": "Basic dTpw"}}, base + `,scope="repository:app:pull"`},
		{"garbage token", request{method: "GET", path: "/v2/app/tags/list", header: bearerHeader("not.a.token")}, base + `,scope="repository:app:pull",error="invalid_token"`},
		{"expired token", request{method: "GET", path: "/v2/app/tags/list", header: bearerHeader(expired)}, base + `,scope="repository:app:pull",error="invalid_token"`},
		{"pull token used to push", request{method: "PUT", path: "/v2/app/manifests/v1", header: bearerHeader(pullApp)}, base + `,scope="repository:app:pull,push",error="insufficient_scope"`},
		{"pull token used to delete", request{method: "DELETE", path: "/v2/app/manifests/v1", header: bearerHeader(pullApp)}, base + `,scope="repository:app:delete",error="insufficient_scope"`},
		{"pull token on the catalog", request{method: "GET", path: "/v2/_catalog", header: bearerHeader(pullApp)}, base + `,scope="registry:catalog:*",error="insufficient_scope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := tr.do(t, tt.req)
			if resp.StatusCode != http.StatusUnauthorized || errorCode(body) != codeUnauthorized {
				t.Fatalf("got %d %s, want 401 UNAUTHORIZED", resp.StatusCode, body)
			}
			if got := resp.Header.Values("WWW-Authenticate"); len(got) != 1 || got[0] != tt.want {
				t.Errorf("challenge\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestTokenGrantsAreCheckedPerRepositoryAndAction(t *testing.T) {
	ca := newTokenCA(t)
	tr := newTokenRegistry(t, ca, testRealm)
	admin := bearerHeader(ca.sign(t, "admin", grant("repository", "alice/app", "*"), grant("repository", "alice/app2", "*"),
		grant("repository", "alice/app/sub", "*"), grant("repository", "bob/app", "*")))
	for _, repo := range []string{"alice/app", "alice/app2", "alice/app/sub", "bob/app"} {
		tr.pushManifest(t, repo, "v1", tr.testImage(t, repo, repo, admin), admin)
	}
	reader := bearerHeader(ca.sign(t, "reader", grant("repository", "alice/app", "pull")))
	tests := []struct {
		name   string
		req    request
		status int
	}{
		{"any valid token opens /v2/", request{method: "GET", path: "/v2/"}, 200},
		{"pull of the granted repository", request{method: "GET", path: "/v2/alice/app/manifests/v1"}, 200},
		{"tags of the granted repository", request{method: "GET", path: "/v2/alice/app/tags/list"}, 200},
		{"push to the granted repository", request{method: "POST", path: "/v2/alice/app/blobs/uploads/"}, 401},
		{"a sibling repository", request{method: "GET", path: "/v2/alice/app2/manifests/v1"}, 401},
		{"a sub-repository", request{method: "GET", path: "/v2/alice/app/sub/manifests/v1"}, 401},
		{"another namespace", request{method: "GET", path: "/v2/bob/app/manifests/v1"}, 401},
		{"the catalog", request{method: "GET", path: "/v2/_catalog"}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.header = reader
			resp, body := tr.do(t, tt.req)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if tt.status == 401 && !strings.HasSuffix(resp.Header.Get("WWW-Authenticate"), `,error="insufficient_scope"`) {
				t.Errorf("challenge %q lacks insufficient_scope", resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
	t.Run("catalog with registry:catalog:*", func(t *testing.T) {
		tok := bearerHeader(ca.sign(t, "ui", grant("registry", "catalog", "*")))
		resp, body := tr.do(t, request{method: "GET", path: "/v2/_catalog", header: tok})
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"alice/app/sub"`) {
			t.Fatalf("got %d %s", resp.StatusCode, body)
		}
	})
}

func TestMountNeedsPullOnTheSource(t *testing.T) {
	ca := newTokenCA(t)
	tr := newTokenRegistry(t, ca, testRealm)
	bob := bearerHeader(ca.sign(t, "bob", grant("repository", "bob/secret", "pull", "push")))
	secret := tr.pushBlob(t, "bob/secret", []byte("bob's layer"), bob)
	mount := "/v2/alice/x/blobs/uploads/?mount=" + secret.String() + "&from=bob/secret"

	t.Run("without pull on from: a plain session, no blob", func(t *testing.T) {
		alice := bearerHeader(ca.sign(t, "alice", grant("repository", "alice/x", "pull", "push")))
		resp, body := tr.do(t, request{method: "POST", path: mount, header: alice})
		if resp.StatusCode != http.StatusAccepted || !strings.Contains(resp.Header.Get("Location"), "/blobs/uploads/") {
			t.Fatalf("got %d %s (Location %q), want 202 with a session", resp.StatusCode, body, resp.Header.Get("Location"))
		}
		resp, _ = tr.do(t, request{method: "HEAD", path: "/v2/alice/x/blobs/" + secret.String(), header: alice})
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("blob visible in alice/x after a refused mount: %d", resp.StatusCode)
		}
	})
	t.Run("with pull on from: mounted", func(t *testing.T) {
		alice := bearerHeader(ca.sign(t, "alice", grant("repository", "alice/x", "pull", "push"), grant("repository", "bob/secret", "pull")))
		resp, body := tr.do(t, request{method: "POST", path: mount, header: alice})
		if resp.StatusCode != http.StatusCreated || resp.Header.Get("Location") != "/v2/alice/x/blobs/"+secret.String() {
			t.Fatalf("got %d %s (Location %q), want 201", resp.StatusCode, body, resp.Header.Get("Location"))
		}
		if resp, _ := tr.do(t, request{method: "HEAD", path: "/v2/alice/x/blobs/" + secret.String(), header: alice}); resp.StatusCode != 200 {
			t.Errorf("mounted blob not visible: %d", resp.StatusCode)
		}
	})
	t.Run("without from: found among the token's repositories", func(t *testing.T) {
		carol := bearerHeader(ca.sign(t, "carol", grant("repository", "carol/y", "pull", "push"), grant("repository", "bob/secret", "pull")))
		resp, body := tr.do(t, request{method: "POST", path: "/v2/carol/y/blobs/uploads/?mount=" + secret.String(), header: carol})
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("got %d %s, want 201", resp.StatusCode, body)
		}
	})
}

// tokenEndpoint is a minimal Docker token endpoint for client tests: it
// grants whatever is asked. The real policy lives in cmd/auth.
func tokenEndpoint(t *testing.T, ca *tokenCA) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		scopes, err := token.ParseScopes(r.Form["scope"])
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var access []token.ResourceActions
		for _, s := range scopes {
			access = append(access, grant(s.Type, s.Name, s.Actions...))
		}
		tok := ca.sign(t, "ci", access...)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"token": tok, "access_token": tok, "expires_in": 60})
	}
}

func TestGoContainerRegistryPushesAndPullsThroughTheTokenFlow(t *testing.T) {
	ca := newTokenCA(t)
	// The token endpoint shares the registry's host:port, which clients
	// accept as a realm on loopback.
	mux := http.NewServeMux()
	var regHandler http.Handler
	mux.HandleFunc("/auth", tokenEndpoint(t, ca))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { regHandler.ServeHTTP(w, r) })
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)

	cfg, err := regconfig.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	cfg.Storage.Filesystem.RootDirectory = root
	cfg.Auth.Token = &regconfig.TokenAuth{Realm: ts.URL + "/auth", Service: testService, Issuer: testIssuer, RootCertBundle: ca.bundle}
	store, err := storage.NewFilesystem(root, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(cfg, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	regHandler = srv.Handler()
	pushPullRoundTrip(t, &testRegistry{Server: ts, srv: srv, store: store, root: root},
		remote.WithAuth(&authn.Basic{Username: "ci", Password: "any"}))
}

func TestTokensVerifiedAgainstAJWKS(t *testing.T) {
	signer, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := token.NewKey(signer, nil, token.KeyIDThumbprint)
	if err != nil {
		t.Fatal(err)
	}
	jwks, err := token.MarshalJWKS([]*token.Key{key})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(file, jwks, 0o644); err != nil {
		t.Fatal(err)
	}
	served := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	}))
	t.Cleanup(served.Close)
	signed := (&tokenCA{key: key}).sign(t, "ci", grant("repository", "app", "pull"))
	for name, location := range map[string]string{"file": file, "URL": served.URL} {
		t.Run(name, func(t *testing.T) {
			tr := newRegistry(t, func(c *regconfig.Config) {
				c.Auth.Token = &regconfig.TokenAuth{Realm: testRealm, Service: testService, Issuer: testIssuer, JWKS: location,
					JWKSInsecureHTTP: name == "URL"} // httptest serves plain http
			})
			resp, body := tr.do(t, request{method: "GET", path: "/v2/", header: bearerHeader(signed)})
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("got %d %s", resp.StatusCode, body)
			}
			other := newTokenCA(t).sign(t, "ci", grant("repository", "app", "pull"))
			if resp, _ := tr.do(t, request{method: "GET", path: "/v2/", header: bearerHeader(other)}); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("token from an untrusted key: %d", resp.StatusCode)
			}
		})
	}
}

func TestAutoRedirectPointsTheRealmAtTheRequestHost(t *testing.T) {
	ca := newTokenCA(t)
	tr := newRegistry(t, func(c *regconfig.Config) {
		c.Auth.Token = &regconfig.TokenAuth{Realm: testRealm, Service: testService, Issuer: testIssuer,
			RootCertBundle: ca.bundle, AutoRedirect: true, AutoRedirectPath: "/auth/token"}
	})
	resp, _ := tr.do(t, request{method: "GET", path: "/v2/app/tags/list", header: map[string]string{"Host": "registry.example:5000"}})
	want := `Bearer realm="http://registry.example:5000/auth/token",service="Docker registry",scope="repository:app:pull"`
	if got := resp.Header.Get("WWW-Authenticate"); got != want {
		t.Errorf("challenge\n got %q\nwant %q", got, want)
	}
}

// regconfig refuses a plain-http JWKS without jwksinsecurehttp; a config
// built in code is refused by the server too.
func TestPlainHTTPJWKSIsRefusedWithoutTheRiskNamed(t *testing.T) {
	cfg, err := regconfig.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Auth.Token = &regconfig.TokenAuth{Realm: testRealm, Service: testService, Issuer: testIssuer, JWKS: "http://127.0.0.1:1/jwks.json"}
	store, err := storage.NewFilesystem(t.TempDir(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(cfg, store, nil); err == nil || !strings.Contains(err.Error(), "jwksinsecurehttp") {
		t.Fatalf("New = %v, want a refusal naming jwksinsecurehttp", err)
	}
}
