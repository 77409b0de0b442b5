package hardening

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// raw sends one request with target written byte for byte on the request
// line (no client normalises it) and returns the response and its body.
func raw(t *testing.T, base, method, target string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	host := strings.TrimPrefix(base, "http://")
	c, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var b strings.Builder
	b.WriteString(method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n")
	for k, v := range header {
		b.WriteString(k + ": " + v + "\r\n")
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(c, b.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// TestPathTricksNeverReachAnotherRepository sends alice's pull token with
// request targets that try to name bob's repository, or alice's in a
// disguise: each gets the answer of the clean path or a 400/404, and bob's
// content never comes back.
func TestPathTricksNeverReachAnotherRepository(t *testing.T) {
	a := newAuthority(t)
	reg := newTokenRegistry(t, a, nil)
	admin := bearer(a.token(t, "admin", grant("repository", "alice/app", "*"), grant("repository", "bob/app", "*")))
	aliceBody, _ := reg.pushImage(t, admin, "alice/app", "v1")
	bobBody, bobDigest := reg.pushImage(t, admin, "bob/app", "v1")
	bobLayer := reg.pushBlob(t, admin, "bob/app", []byte("bob's private layer"))
	alice := bearer(a.token(t, "alice", grant("repository", "alice/app", "pull")))
	long := strings.Repeat("a/", 130) + "app"

	tests := []struct {
		name   string
		target string
		status int
		code   string // "" when the body is not an error
	}{
		{"control: alice's own manifest", "/v2/alice/app/manifests/v1", 200, ""},
		{"control: bob's manifest", "/v2/bob/app/manifests/v1", 401, "UNAUTHORIZED"},
		{"absolute-form target naming bob", "http://" + strings.TrimPrefix(reg.URL, "http://") + "/v2/bob/app/manifests/v1", 401, "UNAUTHORIZED"},
		{"catalog with a trailing slash", "/v2/_catalog/", 404, "NOT_FOUND"},
		{"catalog behind a double slash", "//v2/_catalog", 404, "NOT_FOUND"},
		{"escaped catalog", "/v2/%5Fcatalog", 404, "NOT_FOUND"},
		{"upper-case API root", "/V2/alice/app/manifests/v1", 404, "NOT_FOUND"},
		{"dot-dot out of alice into bob", "/v2/alice/app/../../bob/app/manifests/v1", 400, "NAME_INVALID"},
		{"escaped dot-dot", "/v2/alice/app/%2e%2e/%2e%2e/bob/app/manifests/v1", 400, "NAME_INVALID"},
		{"dot segment", "/v2/./bob/app/manifests/v1", 400, "NAME_INVALID"},
		{"empty segment", "/v2/alice//app/manifests/v1", 400, "NAME_INVALID"},
		{"escaped slash in the name", "/v2/alice%2Fapp/manifests/v1", 400, "NAME_INVALID"},
		{"escaped slash before the name", "/v2/%2Fbob/app/manifests/v1", 400, "NAME_INVALID"},
		{"upper-case name", "/v2/Alice/app/manifests/v1", 400, "NAME_INVALID"},
		{"NUL in the name", "/v2/alice/app%00/manifests/v1", 400, "NAME_INVALID"},
		{"semicolon in the name", "/v2/alice/app;bob/app/manifests/v1", 400, "NAME_INVALID"},
		{"full-width letter in the name", "/v2/alice/\uff41pp/manifests/v1", 400, "NAME_INVALID"},
		{"overlong name", "/v2/" + long + "/manifests/v1", 400, "NAME_INVALID"},
		{"escaped path in the tag", "/v2/alice/app/manifests/..%2F..%2Fbob%2Fapp%2Fmanifests%2Fv1", 404, "MANIFEST_UNKNOWN"},
		{"trailing slash after the tag", "/v2/alice/app/manifests/v1/", 404, "NOT_FOUND"},
		{"bob's manifest by digest through alice", "/v2/alice/app/manifests/" + bobDigest.String(), 404, "MANIFEST_UNKNOWN"},
		{"bob's layer through alice", "/v2/alice/app/blobs/" + bobLayer.String(), 404, "BLOB_UNKNOWN"},
		{"bob's manifest as a blob through alice", "/v2/alice/app/blobs/" + bobDigest.String(), 404, "BLOB_UNKNOWN"},
		{"a scope in the query changes nothing", "/v2/bob/app/manifests/v1?scope=repository:alice/app:pull", 401, "UNAUTHORIZED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := raw(t, reg.URL, "GET", tt.target, alice)
			if resp.StatusCode != tt.status {
				t.Fatalf("GET %s: %d %.300s, want %d", tt.target, resp.StatusCode, body, tt.status)
			}
			if tt.code != "" && errorCode(body) != tt.code {
				t.Errorf("GET %s: body %.300s, want one %s error", tt.target, body, tt.code)
			}
			if tt.status == 200 && string(body) != string(aliceBody) {
				t.Errorf("GET %s: served %.300s", tt.target, body)
			}
			if strings.Contains(string(body), string(bobBody)) || strings.Contains(string(body), "bob's private layer") {
				t.Errorf("GET %s: bob's content came back", tt.target)
			}
		})
	}
}
