package authserver

import (
	"net/http"
	"net/netip"
	"strings"
)

// clientIP is the address ACL `ip` rules are matched against: the TCP
// peer, or, when the peer is one of server.trusted_proxies, the address its
// server.real_ip_header names. Picking the element follows docker_auth's
// real_ip_pos (0 is the first, negative counts from the end; for
// X-Forwarded-For behind one proxy use -1, since earlier elements come from
// the client). A header from any other peer is ignored: anyone can send
// one. When a trusted proxy's header is missing or unparsable the address
// is unknown, which matches no `ip` rule, rather than the proxy's own.
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
	pos := sc.RealIPPos
	if pos < 0 {
		pos += len(parts)
	}
	if pos < 0 || pos >= len(parts) {
		return netip.Addr{}
	}
	return parseAddr(strings.TrimSpace(parts[pos]))
}

func trusted(snap *snapshot, a netip.Addr) bool {
	for _, p := range snap.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseAddr accepts "ip", "ip:port" and "[ipv6]:port"; anything else is the
// invalid Addr. IPv4-mapped IPv6 addresses are unmapped so 10.0.0.0/8
// matches ::ffff:10.1.2.3.
func parseAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap()
	}
	return netip.Addr{}
}
