package authserver

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/wharf-registry/wharf/internal/authconfig"
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

// TestTheClientIsTheRightmostAddressNotATrustedProxy reads the client
// from the peer and the header as clientIP does for each real_ip_pos, with
// 10.0.0.0/8 and 2001:db8:f::/48 the trusted proxies.
func TestTheClientIsTheRightmostAddressNotATrustedProxy(t *testing.T) {
	cfg := &authconfig.Config{
		Server:         authconfig.ServerConfig{RealIPHeader: "X-Forwarded-For"},
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:f::/48")},
	}
	const unknown = ""
	tests := []struct {
		name string
		pos  int
		peer string
		xff  []string
		want string
	}{
		{"untrusted peer: its header is ignored", 0, "198.51.100.7:1", []string{"203.0.113.9"}, "198.51.100.7"},
		{"one proxy", 0, "10.0.0.1:1", []string{"203.0.113.9"}, "203.0.113.9"},
		{"spoofed leading entries are skipped", 0, "10.0.0.1:1", []string{"1.2.3.4, 5.6.7.8, 203.0.113.9"}, "203.0.113.9"},
		{"a spoofed trusted address on the left changes nothing", 0, "10.0.0.1:1", []string{"10.9.9.9, 203.0.113.9"}, "203.0.113.9"},
		{"two trusted proxies", 0, "10.0.0.1:1", []string{"1.2.3.4, 203.0.113.9, 10.0.0.2"}, "203.0.113.9"},
		{"repeated header lines form one list", 0, "10.0.0.1:1", []string{"1.2.3.4", "203.0.113.9", "10.0.0.2"}, "203.0.113.9"},
		{"all trusted: the request began at a proxy", 0, "10.0.0.1:1", []string{"10.0.0.3, 10.0.0.2"}, "10.0.0.3"},
		{"garbage a trusted proxy passed on: unknown", 0, "10.0.0.1:1", []string{"203.0.113.9, not-an-ip, 10.0.0.2"}, unknown},
		{"garbage as the last element: unknown", 0, "10.0.0.1:1", []string{"203.0.113.9, bogus"}, unknown},
		{"garbage left of the client is the client's own", 0, "10.0.0.1:1", []string{"<script>, 203.0.113.9"}, "203.0.113.9"},
		{"an empty element: unknown", 0, "10.0.0.1:1", []string{"203.0.113.9, "}, unknown},
		{"no header from a trusted proxy: unknown", 0, "10.0.0.1:1", nil, unknown},
		{"elements with ports", 0, "10.0.0.1:1", []string{"203.0.113.9:4711, 10.0.0.2:80"}, "203.0.113.9"},
		{"IPv6 through IPv6 proxies", 0, "[2001:db8:f::1]:1", []string{"2001:db8:1::5, [2001:db8:f::2]"}, "2001:db8:1::5"},
		{"IPv4-mapped peer and element", 0, "[::ffff:10.0.0.1]:1", []string{"::ffff:203.0.113.9"}, "203.0.113.9"},
		{"positive real_ip_pos: the same rule", 1, "10.0.0.1:1", []string{"1.2.3.4, 5.6.7.8, 203.0.113.9"}, "203.0.113.9"},
		{"real_ip_pos -1: the last element", -1, "10.0.0.1:1", []string{"1.2.3.4, 203.0.113.9"}, "203.0.113.9"},
		{"real_ip_pos -1: even a trusted one", -1, "10.0.0.1:1", []string{"203.0.113.9, 10.0.0.2"}, "10.0.0.2"},
		{"real_ip_pos -2: two proxies", -2, "10.0.0.1:1", []string{"1.2.3.4, 203.0.113.9, 10.0.0.2"}, "203.0.113.9"},
		{"real_ip_pos beyond the list: unknown", -3, "10.0.0.1:1", []string{"203.0.113.9, 10.0.0.2"}, unknown},
		{"real_ip_pos on garbage: unknown", -1, "10.0.0.1:1", []string{"203.0.113.9, x"}, unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := *cfg
			c.Server.RealIPPos = tt.pos
			r := httptest.NewRequest(http.MethodGet, "/auth", nil)
			r.RemoteAddr = tt.peer
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			got := clientIP(&snapshot{cfg: &c}, r)
			var want netip.Addr // unknown
			if tt.want != unknown {
				want = netip.MustParseAddr(tt.want)
			}
			if got != want {
				t.Errorf("client %v, want %v", got, want)
			}
		})
	}
}
