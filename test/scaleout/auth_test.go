package scaleout

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"golang.org/x/crypto/bcrypt"

	"github.com/wharf-registry/wharf/internal/testkit"
)

const (
	testIssuer   = "wharf-scaleout-issuer"
	testService  = "wharf-scaleout-registry"
	testUser     = "admin"
	testPassword = "admin-secret-1"
)

// authYAML is one docker_auth-style configuration for every auth process;
// only the listen address (%d) differs between them.
const authYAML = `server:
  addr: "127.0.0.1:%%d"
token:
  issuer: %q
  expiration: 900
  certificate: %q
  key: %q
  services: [%q]
users:
  %q:
    password: %q
acl:
  - match: {account: %q}
    actions: ["*"]
`

// authPair is two auth processes sharing one configuration and signing key,
// behind a round-robin proxy, and the registry auth section trusting them.
type authPair struct {
	a, b     *process
	proxy    *rrProxy
	registry string // the auth section of registry:2's config
}

func startAuthPair(t *testing.T) *authPair {
	t.Helper()
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "wharf scaleout token signer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert := testkit.WriteFile(t, dir, "token.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	keyFile := testkit.WriteFile(t, dir, "token.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	hash, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(authYAML, testIssuer, cert, keyFile, testService, testUser, hash, testUser)
	startOne := func(name string) *process {
		return start(t, spec{
			name: name, bin: authBin, env: []string{},
			args: func(port int) []string {
				return []string{"serve", testkit.WriteFile(t, dir, name+".yml", fmt.Appendf(nil, cfg, port))}
			},
		})
	}
	p := &authPair{a: startOne("auth-a"), b: startOne("auth-b")}
	p.proxy = newRRProxy(t, []*process{p.a, p.b})
	p.registry = fmt.Sprintf("auth:\n  token:\n    realm: %q\n    service: %q\n    issuer: %q\n    rootcertbundle: %q\n",
		p.proxy.URL()+"/auth", testService, testIssuer, cert)
	return p
}

// tokenResponse is what an auth server answers on its OAuth2 endpoint.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// grant POSTs an OAuth2 form to the auth process.
func grant(t *testing.T, auth *process, form url.Values) tokenResponse {
	t.Helper()
	form.Set("service", testService)
	form.Set("client_id", "wharf-scaleout-test")
	resp, body := do(t, http.MethodPost, auth.URL()+"/auth", "", strings.NewReader(form.Encode()),
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); resp.StatusCode != http.StatusOK || err != nil || tr.AccessToken == "" {
		t.Fatalf("%s grant at %s: %s %s", form.Get("grant_type"), auth.name, resp.Status, body)
	}
	return tr
}

// TestTokensFromEitherAuthServerWorkEverywhere starts two auth processes with
// the same configuration and key: a token or a refresh token issued by one
// is honoured by the other (refresh grant) and by every registry, and
// go-containerregistry's token flow through both round-robin proxies pushes
// and pulls.
func TestTokensFromEitherAuthServerWorkEverywhere(t *testing.T) {
	s := needS3(t, "versitygw")
	pair := startAuthPair(t)
	c := startCluster(t, s, clusterOptions{authYAML: pair.registry})
	const scope = "repository:team/app:pull,push"

	// mayPush reports whether every registry lets the token start an upload.
	mayPush := func(t *testing.T, token, what string) {
		t.Helper()
		for _, r := range c.regs {
			resp, body := do(t, http.MethodPost, r.URL()+"/v2/team/app/blobs/uploads/", token, nil, nil)
			if resp.StatusCode != http.StatusAccepted {
				t.Errorf("%s at %s: %s %s", what, r.name, resp.Status, body)
			}
		}
	}
	password := url.Values{"grant_type": {"password"}, "username": {testUser}, "password": {testPassword},
		"scope": {scope}, "access_type": {"offline"}}

	for _, tc := range []struct{ issuer, other *process }{{pair.a, pair.b}, {pair.b, pair.a}} {
		t.Run("issued by "+tc.issuer.name, func(t *testing.T) {
			first := grant(t, tc.issuer, password)
			if first.RefreshToken == "" {
				t.Fatalf("%s issued no refresh token for access_type=offline", tc.issuer.name)
			}
			mayPush(t, first.AccessToken, "a token from "+tc.issuer.name)
			refreshed := grant(t, tc.other, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.RefreshToken}, "scope": {scope}})
			mayPush(t, refreshed.AccessToken, "a token "+tc.other.name+" issued for "+tc.issuer.name+"'s refresh token")
		})
	}
	t.Run("a tampered refresh token is refused by both", func(t *testing.T) {
		// One character changed well inside the token, where every bit
		// counts (a last base64 character may carry only padding bits).
		rt := []byte(grant(t, pair.a, password).RefreshToken)
		if rt[10] == 'A' {
			rt[10] = 'w'
		} else {
			rt[10] = 'A'
		}
		tampered := string(rt)
		for _, auth := range []*process{pair.a, pair.b} {
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tampered}, "scope": {scope},
				"service": {testService}, "client_id": {"wharf-scaleout-test"}}
			resp, body := do(t, http.MethodPost, auth.URL()+"/auth", "", strings.NewReader(form.Encode()),
				http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
			if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusBadRequest {
				t.Errorf("tampered refresh token at %s: %s %s, want 400 or 401", auth.name, resp.Status, body)
			}
		}
	})
	t.Run("without a token", func(t *testing.T) {
		for _, r := range c.regs {
			resp, _ := do(t, http.MethodPost, r.URL()+"/v2/team/app/blobs/uploads/", "", nil, nil)
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("Www-Authenticate"), pair.proxy.URL()+"/auth") {
				t.Errorf("POST upload on %s without a token: %s, challenge %q", r.name, resp.Status, resp.Header.Get("Www-Authenticate"))
			}
		}
	})
	t.Run("go-containerregistry through both proxies", func(t *testing.T) {
		pushAndPull(t, c, ggcrOptions(t, &authn.Basic{Username: testUser, Password: testPassword}))
		if got := distinct(pair.proxy.backendsOf("", "/auth")); len(got) != 2 {
			t.Errorf("token requests reached auth servers %v, want both", got)
		}
	})
}
