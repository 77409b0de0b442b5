package authconfig

import (
	"crypto/tls"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

func (v *validator) server() {
	c := v.c
	s := &c.Server
	if s.Addr == "" {
		v.problem("server.addr", "required, e.g. \":5001\"")
	}
	switch s.Net {
	case "":
		s.Net = "tcp"
	case "tcp", "unix":
	default:
		v.problem("server.net", "must be \"tcp\" or \"unix\", got %q", s.Net)
	}
	if s.PathPrefix != "" {
		if !strings.HasPrefix(s.PathPrefix, "/") {
			v.problem("server.path_prefix", "must be an absolute path such as /auth_server, got %q", s.PathPrefix)
		}
		if strings.ContainsAny(s.PathPrefix, "?#%* \t") {
			v.problem("server.path_prefix", "must be a plain path, got %q", s.PathPrefix)
		}
		s.PathPrefix = strings.TrimRight(s.PathPrefix, "/")
	}
	v.loadServerTLS()
	v.tlsSettings()

	for i, p := range s.TrustedProxies {
		field := fmt.Sprintf("server.trusted_proxies[%d]", i)
		prefix, err := parsePrefix(p)
		if err != nil {
			v.problem(field, "%v", err)
			continue
		}
		c.TrustedProxies = append(c.TrustedProxies, prefix)
	}
	if s.RealIPHeader != "" && len(s.TrustedProxies) == 0 {
		v.warn("server.real_ip_header %q is ignored: set server.trusted_proxies to the addresses of your reverse proxies (any client could forge the header)", s.RealIPHeader)
	}
	if s.RealIPPos > 0 {
		v.warn("server.real_ip_pos %d is ignored: it counts from the end of the header the client writes; the client is the rightmost address not in server.trusted_proxies (or set a negative position: that many proxies from the end)", s.RealIPPos)
	}

	for i, o := range s.CORS.AllowedOrigins {
		if err := checkOrigin(o); err != nil {
			v.problem(fmt.Sprintf("server.cors.allowed_origins[%d]", i), "%v", err)
		}
	}
	c.CORSMaxAge = DefaultCORSMaxAge * time.Second
	if m := s.CORS.MaxAge; m != nil {
		if *m < 0 {
			v.problem("server.cors.max_age", "must be a non-negative number of seconds, got %d", *m)
		}
		c.CORSMaxAge = time.Duration(*m) * time.Second
	}
}

// parsePrefix accepts a CIDR ("10.0.0.0/8") or a single address.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("bad CIDR %q: %v", s, err)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("bad CIDR or address %q", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// checkOrigin accepts "*" or a browser origin: scheme://host[:port] and
// nothing else, since browsers send exactly that and compare exactly.
func checkOrigin(o string) error {
	if o == "*" {
		return nil
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("bad origin %q: want \"*\" or scheme://host[:port] such as https://ui.example.com", o)
	}
	return nil
}

var tlsVersions = map[string]uint16{
	"TLS10": tls.VersionTLS10, "TLS11": tls.VersionTLS11,
	"TLS12": tls.VersionTLS12, "TLS13": tls.VersionTLS13,
}

var tlsCurves = map[string]tls.CurveID{
	"P256": tls.CurveP256, "P384": tls.CurveP384, "P521": tls.CurveP521, "X25519": tls.X25519,
}

// tlsSettings parses docker_auth's server.tls_* keys.
func (v *validator) tlsSettings() {
	c := v.c
	s := c.Server
	if s.TLSMinVersion != "" {
		ver, ok := tlsVersions[s.TLSMinVersion]
		if !ok {
			if n, err := strconv.ParseUint(strings.TrimPrefix(s.TLSMinVersion, "0x"), 16, 16); err == nil &&
				strings.HasPrefix(s.TLSMinVersion, "0x") && n >= tls.VersionTLS10 && n <= tls.VersionTLS13 {
				ver, ok = uint16(n), true
			}
		}
		if !ok {
			v.problem("server.tls_min_version", "unknown TLS version %q (want TLS10, TLS11, TLS12 or TLS13)", s.TLSMinVersion)
		}
		c.TLSMinVersion = ver
	}
	for i, name := range s.TLSCurvePreferences {
		id, ok := tlsCurves[name]
		if !ok {
			v.problem(fmt.Sprintf("server.tls_curve_preferences[%d]", i), "unknown curve %q (want P256, P384, P521 or X25519)", name)
			continue
		}
		c.CurvePreferences = append(c.CurvePreferences, id)
	}
	if len(s.TLSCipherSuites) > 0 && c.TLSMinVersion == tls.VersionTLS13 {
		v.problem("server.tls_cipher_suites", "TLS 1.3 cipher suites are not configurable")
	}
	secure := map[string]uint16{}
	for _, cs := range tls.CipherSuites() {
		secure[cs.Name] = cs.ID
	}
	insecure := map[string]bool{}
	for _, cs := range tls.InsecureCipherSuites() {
		insecure[cs.Name] = true
	}
	for i, name := range s.TLSCipherSuites {
		field := fmt.Sprintf("server.tls_cipher_suites[%d]", i)
		id, ok := secure[name]
		switch {
		case ok:
			c.CipherSuites = append(c.CipherSuites, id)
		case insecure[name]:
			v.problem(field, "cipher suite %s is insecure and refused", name)
		default:
			v.problem(field, "unknown cipher suite %q", name)
		}
	}
}
