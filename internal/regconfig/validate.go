package regconfig

import (
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/wharf-registry/wharf/internal/yamlconf"
)

// Validate reports every problem with c at once, each naming the field and
// where it was set (file and line, or environment variable). It also checks
// that the files the config names exist. The error is a yamlconf.Problems.
func (c *Config) Validate() error {
	v := validator{c: c}
	v.general()
	v.storage()
	v.http()
	v.auth()
	v.health()
	v.proxies()
	return v.ps.Err()
}

type validator struct {
	c  *Config
	ps yamlconf.Problems
}

func (v *validator) add(path, format string, args ...any) {
	v.ps = append(v.ps, v.c.problem(path, format, args...))
}

func (v *validator) general() {
	c := v.c
	if c.Version != "" && c.Version != "0.1" {
		v.add("version", "unsupported version %q (registry:2 configs say 0.1)", c.Version)
	}
	switch strings.ToLower(c.Log.Level) {
	case "", "error", "warn", "warning", "info", "debug", "trace", "fatal", "panic":
	default:
		v.add("log.level", "unknown level %q (want error, warn, info or debug)", c.Log.Level)
	}
	switch strings.ToLower(c.Log.Formatter) {
	case "", "text", "json", "logstash":
	default:
		v.add("log.formatter", "unknown formatter %q (want text, json or logstash)", c.Log.Formatter)
	}
}

func (v *validator) storage() {
	s := v.c.Storage
	if s.S3 == nil && s.Filesystem.RootDirectory == "" {
		v.add("storage.filesystem.rootdirectory", "must not be empty")
	}
	v.s3()
	up := s.Maintenance.UploadPurging
	v.positive("storage.maintenance.uploadpurging.age", up.Age)
	v.positive("storage.maintenance.uploadpurging.interval", up.Interval)
	gc := s.Maintenance.GC
	v.positive("storage.maintenance.gc.interval", gc.Interval)
	v.positive("storage.maintenance.gc.graceperiod", gc.GracePeriod)
}

// positive checks a duration parsed and is more than zero.
func (v *validator) positive(path string, d Duration) {
	switch {
	case d.invalid != "":
		v.add(path, "invalid duration %s (want e.g. 10s, 30m, 24h)", d.invalid)
	case d.Duration <= 0:
		v.add(path, "must be more than zero")
	}
}

func (v *validator) http() {
	h := v.c.HTTP
	if _, _, err := net.SplitHostPort(h.Addr); err != nil {
		v.add("http.addr", "want host:port or :port, got %q", h.Addr)
	}
	if h.Host != "" {
		u, err := url.Parse(h.Host)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.add("http.host", "want an absolute URL such as https://registry.example.com, got %q", h.Host)
		}
	}
	switch strings.ToLower(h.Net) {
	case "", "tcp":
	default:
		v.add("http.net", "registry:2's http.net %q is not supported by this server (TCP only)", h.Net)
	}
	if h.DrainTimeout.invalid != "" || h.DrainTimeout.Duration < 0 {
		v.positive("http.draintimeout", h.DrainTimeout)
	}
	if d := h.Debug; d.Addr != "" {
		if _, _, err := net.SplitHostPort(d.Addr); err != nil {
			v.add("http.debug.addr", "want host:port or :port, got %q", d.Addr)
		} else if d.Addr == h.Addr {
			v.add("http.debug.addr", "must differ from http.addr: the debug listener is for operators, not for the public port")
		}
	}
	if p := h.Debug.Prometheus.Path; p != "" && (!strings.HasPrefix(p, "/") || strings.HasPrefix(p, "/debug/") || strings.ContainsAny(p, " \t{}")) {
		v.add("http.debug.prometheus.path", "want a path starting with / and outside /debug/, got %q", p)
	}
	if h.Prefix != "" && !strings.HasPrefix(h.Prefix, "/") {
		v.add("http.prefix", "must start with /, got %q", h.Prefix)
	}
	for name, vals := range h.Headers {
		if !validHeaderName(name) {
			v.add("http.headers."+name, "not a valid header name")
		}
		for _, val := range vals {
			if strings.ContainsAny(val, "\r\n\x00") {
				v.add("http.headers."+name, "value contains a line break or NUL")
			}
		}
	}
	t := h.TLS
	if t.Enabled() {
		if t.Certificate == "" {
			v.add("http.tls.certificate", "required when http.tls.key is set")
		}
		if t.Key == "" {
			v.add("http.tls.key", "required when http.tls.certificate is set")
		}
	}
	v.file("http.tls.certificate", t.Certificate)
	v.file("http.tls.key", t.Key)
	for i, ca := range t.ClientCAs {
		v.file("http.tls.clientcas["+strconv.Itoa(i)+"]", ca)
	}
	switch strings.ToLower(t.MinimumTLS) {
	case "", "tls1.2", "tls1.3":
	default:
		v.add("http.tls.minimumtls", "want tls1.2 or tls1.3, got %q", t.MinimumTLS)
	}
}

func (v *validator) auth() {
	a := v.c.Auth
	if a.Htpasswd != nil && a.Token != nil {
		v.add("auth", "configure one access controller, not both htpasswd and token")
	}
	if h := a.Htpasswd; h != nil {
		if h.Realm == "" {
			v.add("auth.htpasswd.realm", "required")
		}
		if h.Path == "" {
			v.add("auth.htpasswd.path", "required")
		}
		v.file("auth.htpasswd.path", h.Path)
	}
	if t := a.Token; t != nil {
		for _, f := range []struct{ key, val string }{
			{"realm", t.Realm}, {"service", t.Service}, {"issuer", t.Issuer},
		} {
			if f.val == "" {
				v.add("auth.token."+f.key, "required")
			}
		}
		if t.Realm != "" {
			u, err := url.Parse(t.Realm)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				v.add("auth.token.realm", "want the token server's absolute URL such as https://auth.example.com/auth, got %q", t.Realm)
			}
		}
		if t.RootCertBundle == "" && t.JWKS == "" {
			v.add("auth.token", "set rootcertbundle or jwks (or both): without them no token can be trusted")
		}
		v.file("auth.token.rootcertbundle", t.RootCertBundle)
		switch scheme, _, _ := strings.Cut(t.JWKS, "://"); strings.ToLower(scheme) {
		case "https":
		case "http":
			if !t.JWKSInsecureHTTP {
				v.add("auth.token.jwks", "%s is plain http://: anyone on the way can replace its keys and so forge any token; "+
					"use https://, a file, or set auth.token.jwksinsecurehttp: true to accept the risk", t.JWKS)
			}
		default:
			if t.JWKS != "" {
				v.file("auth.token.jwks", t.JWKS)
			}
		}
	}
}

func (v *validator) health() {
	h := v.c.Health.StorageDriver
	v.positive("health.storagedriver.interval", h.Interval)
	if h.Threshold < 0 {
		v.add("health.storagedriver.threshold", "must not be negative")
	}
}

// file checks that a configured file exists and is not a directory.
func (v *validator) file(path, name string) {
	if name == "" {
		return
	}
	fi, err := os.Stat(name)
	switch {
	case err != nil:
		v.add(path, "%v", err)
	case fi.IsDir():
		v.add(path, "%s is a directory, want a file", name)
	}
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r >= 0x80 || r <= ' ' || strings.ContainsRune("\"(),/:;<=>?@[\\]{}\x7f", r) {
			return false
		}
	}
	return true
}
