//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// response is one HTTP exchange's outcome, however it was made.
type response struct {
	status int
	header http.Header
	body   []byte
}

// request describes a GET as a user would type it with curl.
type request struct {
	url     string
	user    string // Basic credentials "user:password", or ""
	bearer  string
	headers []string // "Name: value"
}

// get performs req with the real curl binary when installed (what users
// type), else with net/http; both trust only the stack's CA, so the server
// certificates' names are checked as clients check them.
func (s *stack) get(t *testing.T, req request) response {
	t.Helper()
	if _, err := exec.LookPath("curl"); err == nil {
		return s.curl(t, req)
	}
	t.Log("curl not installed; using net/http")
	return s.goGet(t, req)
}

func (s *stack) curl(t *testing.T, req request) response {
	t.Helper()
	tmp := t.TempDir()
	headerFile, bodyFile := filepath.Join(tmp, "headers"), filepath.Join(tmp, "body")
	argv := []string{"curl", "-sS", "--cacert", filepath.Join(s.certs, "ca.crt"),
		"-D", headerFile, "-o", bodyFile}
	if req.user != "" {
		argv = append(argv, "-u", req.user)
	}
	if req.bearer != "" {
		argv = append(argv, "-H", "Authorization: Bearer "+req.bearer)
	}
	for _, h := range req.headers {
		argv = append(argv, "-H", h)
	}
	argv = append(argv, req.url)
	// Not through runner: the argv holds credentials, which stay out of the log.
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("curl %s: %v\n%s", req.url, err, out)
	}
	raw, err := os.ReadFile(headerFile)
	if err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile(bodyFile)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	// curl writes "HTTP/2 200" for HTTP/2 (which both servers offer over
	// TLS); net/http's parser wants a minor version.
	for _, v := range []string{"HTTP/2 ", "HTTP/3 "} {
		if bytes.HasPrefix(raw, []byte(v)) {
			raw = append([]byte(strings.TrimSpace(v)+".0 "), raw[len(v):]...)
		}
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
	if err != nil {
		t.Fatalf("curl %s: unreadable headers %q: %v", req.url, raw, err)
	}
	resp.Body.Close()
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

func (s *stack) goGet(t *testing.T, req request) response {
	t.Helper()
	pemData, err := os.ReadFile(filepath.Join(s.certs, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemData)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	hr, err := http.NewRequest(http.MethodGet, req.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user, pass, ok := strings.Cut(req.user, ":"); ok {
		hr.SetBasicAuth(user, pass)
	}
	if req.bearer != "" {
		hr.Header.Set("Authorization", "Bearer "+req.bearer)
	}
	for _, h := range req.headers {
		k, v, _ := strings.Cut(h, ":")
		hr.Header.Add(k, strings.TrimSpace(v))
	}
	resp, err := client.Do(hr)
	if err != nil {
		t.Fatalf("GET %s: %v", req.url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

// tokenResponse is the token server's JSON answer.
type tokenResponse struct {
	Token       string `json:"token"`
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
	IssuedAt    string `json:"issued_at"`
}

// access is one entry of a token's "access" claim.
type access struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

// tokenFor asks the realm for a token as user (password pass) with the
// given scopes, exactly as curl users do: GET with Basic credentials.
func (s *stack) tokenFor(t *testing.T, user, pass string, scopes ...string) (tokenResponse, []access) {
	t.Helper()
	q := url.Values{"service": {service}}
	for _, sc := range scopes {
		q.Add("scope", sc)
	}
	resp := s.get(t, request{url: s.authURL() + "?" + q.Encode(), user: user + ":" + pass})
	if resp.status != http.StatusOK {
		t.Fatalf("token for %s %v: status %d, body %s", user, scopes, resp.status, resp.body)
	}
	var tr tokenResponse
	if err := json.Unmarshal(resp.body, &tr); err != nil {
		t.Fatalf("token response %s: %v", resp.body, err)
	}
	if tr.Token == "" || tr.Token != tr.AccessToken {
		t.Fatalf("token response: token %q and access_token %q must be equal and non-empty", tr.Token, tr.AccessToken)
	}
	return tr, grants(t, tr.Token)
}

// grants reads the "access" claim of a JWT. The signature is the registry's
// business (and is exercised by every request the journey makes); here the
// claim only tells which rights the ACL gave.
func grants(t *testing.T, jwt string) []access {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a compact JWS", jwt)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("token payload: %v", err)
	}
	var claims struct {
		Access []access `json:"access"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatalf("token claims %s: %v", payload, err)
	}
	return claims.Access
}

// granted returns the actions a token grants on a repository.
func granted(acc []access, repo string) []string {
	for _, a := range acc {
		if a.Type == "repository" && a.Name == repo {
			return slices.Sorted(slices.Values(a.Actions))
		}
	}
	return nil
}

// wantActions checks the grants on repo equal want (sorted).
func wantActions(acc []access, repo string, want ...string) error {
	got := granted(acc, repo)
	slices.Sort(want)
	if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
		return fmt.Errorf("actions on %s: got %q, want %q", repo, got, want)
	}
	return nil
}
