package authserver

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// The token endpoint answers on its two paths, with and without a path
// prefix; every other form of them is cleaned and redirected, unescaped or
// refused as the mux does.
func TestTokenPathsRouteAsTheMuxRoutesThem(t *testing.T) {
	for _, prefix := range []string{"", "/auth_server"} {
		cfg := strictConfig
		if prefix != "" {
			cfg = strings.Replace(strictConfig, `server: {addr: ":5001"}`, `server: {addr: ":5001", path_prefix: `+prefix+`/}`, 1)
		}
		f := newFixture(t, cfg)
		noRedirects := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		for _, tt := range []struct {
			method, path string
			want         int
			location     string
		}{
			{"GET", "/auth?service=registry.local", 401, ""},
			{"GET", "/auth/token?service=registry.local", 401, ""},
			{"POST", "/auth", 400, ""}, // no form
			{"PUT", "/auth", 405, ""},
			{"GET", "/au%74h?service=registry.local", 401, ""},
			{"GET", "/auth/", 404, ""},
			{"GET", "/auth/token/", 404, ""},
			{"GET", "/authx", 404, ""},
			{"GET", "//auth?service=registry.local", 307, prefix + "/auth?service=registry.local"},
			{"GET", "/./auth", 307, prefix + "/auth"},
		} {
			path := prefix + tt.path
			if strings.HasPrefix(tt.path, "//") {
				path = "/" + prefix + tt.path[1:]
			}
			req, err := http.NewRequest(tt.method, f.ts.URL+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := noRedirects.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			readBody(t, resp)
			if resp.StatusCode != tt.want || resp.Header.Get("Location") != tt.location {
				t.Errorf("%s %s: status %d Location %q, want %d %q", tt.method, path, resp.StatusCode, resp.Header.Get("Location"), tt.want, tt.location)
			}
		}
	}
}

func TestRoutesUnderPathPrefix(t *testing.T) {
	f := newFixture(t, strings.Replace(strictConfig, `server: {addr: ":5001"}`, `server: {addr: ":5001", path_prefix: /auth_server/}`, 1))
	tests := []struct {
		method, path string
		want         int
		wantType     string
	}{
		{"GET", "/auth_server/healthz", 200, "text/plain; charset=utf-8"},
		{"GET", "/auth_server/.well-known/jwks.json", 200, "application/json"},
		{"POST", "/auth_server/.well-known/jwks.json", 405, "application/json"},
		{"GET", "/auth_server/metrics", 200, ""},
		{"GET", "/auth_server/auth?service=registry.local", 401, "application/json"},
		{"GET", "/auth_server/auth/token?service=registry.local", 401, "application/json"},
		{"GET", "/auth?service=registry.local", 404, "application/json"},
		{"GET", "/healthz", 404, "application/json"},
		{"GET", "/auth_server/nope", 404, "application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, f.ts.URL+tt.path, nil)
			resp := do(t, req)
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.want)
			}
			if tt.wantType != "" && resp.Header.Get("Content-Type") != tt.wantType {
				t.Errorf("Content-Type %q, want %q", resp.Header.Get("Content-Type"), tt.wantType)
			}
		})
	}
}

func TestMetricsCountOutcomes(t *testing.T) {
	f := newFixture(t, strictConfig)
	// No outcome is listed before it happened once.
	for _, name := range []string{`wharf_auth_tokens_issued_total{grant="basic"}`, `wharf_auth_request_duration_seconds_count{code="200"}`} {
		if got := f.metric(t, name); got != "" {
			t.Errorf("before any request, %s = %q, want no such series", name, got)
		}
	}
	f.post(t, url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {"adminpassword"}, "service": {"registry.local"}})
	q := url.Values{"service": {"registry.local"}, "scope": {"repository:app:pull"}}
	f.get(t, q, "admin", "adminpassword")
	f.get(t, q, "admin", "adminpassword") // reused
	f.get(t, q, "admin", "bad")
	f.get(t, q, "-", "")
	f.get(t, url.Values{"service": {"registry.local"}, "scope": {"repository:app:pull"}, "account": {"other"}}, "admin", "adminpassword")

	want := map[string]string{
		`wharf_auth_tokens_issued_total{grant="basic"}`:         "2",
		`wharf_auth_tokens_issued_total{grant="password"}`:      "1",
		`wharf_auth_tokens_reused_total`:                        "1",
		`wharf_auth_authentication_failures_total`:              "2",
		`wharf_auth_request_duration_seconds_count{code="200"}`: "3",
		`wharf_auth_request_duration_seconds_count{code="400"}`: "1",
		`wharf_auth_request_duration_seconds_count{code="401"}`: "2",
	}
	for name, v := range want {
		if got := f.metric(t, name); got != v {
			t.Errorf("%s = %q, want %s", name, got, v)
		}
	}
}

func TestDenialsAreCounted(t *testing.T) {
	f := newSeedFixture(t)
	q := url.Values{"service": {"Docker registry"}, "scope": {"repository:nginx:pull,push", "repository:other:pull"}}
	tokenBody(t, f.get(t, q, "reader", "readerpassword"))
	if got := f.metric(t, "wharf_auth_denials_total"); got != "2" {
		t.Errorf("denials %q, want 2 (push on nginx, pull on other)", got)
	}
}

func TestServesTLSWithTheConfiguredCertificate(t *testing.T) {
	dir := t.TempDir()
	srvPair := writeKeyPair(t, dir, "server", "p256")
	cfg := strings.Replace(strictConfig, `server: {addr: ":5001"}`,
		"server:\n\taddr: \":5001\"\n\tcertificate: "+srvPair.Cert+"\n\tkey: "+srvPair.Key+"\n\thsts: true\n\ttls_min_version: TLS12", 1)
	f := newFixture(t, cfg)
	tc := f.srv.TLSConfig()
	if tc == nil || tc.MinVersion != tls.VersionTLS12 {
		t.Fatalf("TLS config %+v", tc)
	}
	ts := httptest.NewUnstartedServer(f.srv.Handler())
	ts.TLS = tc
	ts.StartTLS()
	defer ts.Close()

	roots := x509.NewCertPool()
	roots.AddCert(srvPair.X509)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "localhost"}}}
	req, _ := http.NewRequest("GET", ts.URL+"/auth?service=registry.local&scope=repository:app:pull", nil)
	req.SetBasicAuth("admin", "adminpassword")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("TLS request with the configured certificate as root: %v", err)
	}
	var tr tokenResponse
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || resp.StatusCode != 200 {
		t.Fatalf("status %d: %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	if resp.Header.Get("Strict-Transport-Security") == "" {
		t.Error("hsts: true but no Strict-Transport-Security header")
	}
	verifyJose(t, tr.Token, f.kp.Public) // tokens still signed by the token key
}

func TestNoTLSConfigWithoutServerCertificate(t *testing.T) {
	if newFixture(t, strictConfig).srv.TLSConfig() != nil {
		t.Error("TLS config without server.certificate")
	}
}
