package authserver

import (
	"net/http"
	"net/netip"
	"strings"
)

// clientIP is the address ACL `ip` rules are matched against and logins
// are throttled by: the TCP peer, or, when the peer is one of
// server.trusted_proxies, the client its server.real_ip_header names.
//
// Each proxy appends the address it was reached from, so an
// X-Forwarded-For reads "what the client wrote, ..., client, proxy, proxy":
// only the elements right of the client are written by proxies. The client
// is therefore the rightmost element that is not a trusted proxy (when
// every element is one, the request began at a proxy: the leftmost). The
// first element, docker_auth's default real_ip_pos 0, is whatever the
// client sent, so real_ip_pos 0 and positive positions (counted from the
// client's end) mean this rule. A negative real_ip_pos keeps docker_auth's
// meaning, a fixed count of proxies: the element that far from the end.
//
// A header from any other peer is ignored: anyone can send one. When a
// trusted proxy's header is missing, or an element the rule must read is
// not an address, the client is unknown: that matches no `ip` rule (the
// peer's own address might), and unknown clients share one throttle.
func clientIP(snap *snapshot, r *http.Request) netip.Addr {
	peer := parseAddr(r.RemoteAddr)
	sc := snap.cfg.Server
	if sc.RealIPHeader == "" || !peer.IsValid() || !trusted(snap, peer) {
		return peer
	}
	values := r.Header.Values(sc.RealIPHeader)
	if len(values) == 0 {
		return netip.Addr{}
	}
	// Repeated headers are one comma-separated list (RFC 9110 section 5.3).
	parts := strings.Split(strings.Join(values, ","), ",")
	if pos := sc.RealIPPos; pos < 0 {
		if pos += len(parts); pos < 0 {
			return netip.Addr{}
		}
		return parseAddr(strings.TrimSpace(parts[pos]))
	}
	var a netip.Addr
	for i := len(parts) - 1; i >= 0; i-- {
		if a = parseAddr(strings.TrimSpace(parts[i])); !a.IsValid() || !trusted(snap, a) {
			return a
		}
	}
	return a // all trusted: the leftmost
}

func trusted(snap *snapshot, a netip.Addr) bool {
	for _, p := range snap.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseAddr accepts "ip", "ip:port", "[ipv6]" and "[ipv6]:port"; anything
// else is the invalid Addr. IPv4-mapped IPv6 addresses are unmapped so
// 10.0.0.0/8 matches ::ffff:10.1.2.3.
func parseAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		s = s[1 : len(s)-1]
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap()
	}
	return netip.Addr{}
}
