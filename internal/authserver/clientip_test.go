package authserver

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const proxyConfig = `server:
	addr: ":5001"
	real_ip_header: X-Forwarded-For
	real_ip_pos: -1
	trusted_proxies: [10.0.0.0/8]
token:
	issuer: "Auth Service"
	expiration: 900
	certificate: CERT
	key: KEY
users:
	"": {}
acl:
	- match: {ip: "203.0.113.0/24"}
	  actions: [pull]
	- match: {ip: "10.0.0.0/8"}
	  actions: [push]
	  comment: the proxies' own range, never a proxied client's
`

// grantFrom asks for pull,push on app as a request from peer carrying the
// given X-Forwarded-For header lines, and returns what was granted.
func grantFrom(t *testing.T, f *fixture, peer string, xff ...string) string {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/auth?service=r&scope=repository:app:pull,push", nil)
	req.RemoteAddr = peer
	for _, v := range xff {
		req.Header.Add("X-Forwarded-For", v)
	}
	rec := httptest.NewRecorder()
	f.srv.Handler().ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var tr tokenResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &tr); err != nil {
		t.Fatal(err)
	}
	_, _, acc := verifyJose(t, tr.Token, f.kp.Public)
	return grants(acc)["repository:app"]
}

func TestRealIPHeaderIsBelievedOnlyFromTrustedProxies(t *testing.T) {
	f := newFixture(t, proxyConfig)
	tests := []struct {
		name string
		peer string
		xff  []string
		want string
	}{
		{"direct client", "203.0.113.9:40000", nil, "pull"},
		{"direct client over IPv4-mapped IPv6", "[::ffff:203.0.113.9]:40000", nil, "pull"},
		{"forged header from an untrusted peer", "198.51.100.7:40000", []string{"203.0.113.9"}, ""},
		{"through the proxy", "10.1.2.3:5555", []string{"203.0.113.9"}, "pull"},
		{"through the proxy, client-supplied first element ignored", "10.1.2.3:5555", []string{"203.0.113.9, 198.51.100.7"}, ""},
		{"through the proxy, last element used", "10.1.2.3:5555", []string{"198.51.100.7, 203.0.113.9"}, "pull"},
		{"repeated header lines form one list", "10.1.2.3:5555", []string{"198.51.100.7", "203.0.113.9"}, "pull"},
		{"through the proxy without the header: unknown, not the proxy", "10.1.2.3:5555", nil, ""},
		{"through the proxy with garbage", "10.1.2.3:5555", []string{"not-an-ip"}, ""},
		{"element with a port", "10.1.2.3:5555", []string{"203.0.113.9:1234"}, "pull"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := grantFrom(t, f, tt.peer, tt.xff...); got != tt.want {
				t.Errorf("granted %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRealIPHeaderIsIgnoredWithoutTrustedProxies(t *testing.T) {
	f := newFixture(t, strings.Replace(proxyConfig, "\ttrusted_proxies: [10.0.0.0/8]\n", "", 1))
	if got := grantFrom(t, f, "10.1.2.3:5555", "203.0.113.9"); got != "push" {
		t.Errorf("granted %q: the header must be ignored and the peer address used", got)
	}
}
