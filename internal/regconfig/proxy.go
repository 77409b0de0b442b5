package regconfig

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/wharf-registry/wharf/pkg/reference"
)

// DefaultProxyTTL is how long cached content of an upstream lives without
// being pulled again, and how long a cached tag is served before it is
// revalidated upstream: registry:2's default.
const DefaultProxyTTL = 168 * time.Hour

// Proxy is registry:2's proxy section: the whole registry becomes a
// pull-through cache of RemoteURL. Pushes and deletes are refused; local
// auth still decides who may pull.
type Proxy struct {
	RemoteURL string `yaml:"remoteurl"`
	Username  string `yaml:"username"`
	Password  string `yaml:"password"`
	// TTL nil means DefaultProxyTTL; 0 means cached content never expires
	// (and cached tags are revalidated on every pull).
	TTL *Duration `yaml:"ttl"`
}

// ProxyEntry is one item of `proxies`: an upstream served below Prefix,
// beside the registry's ordinary, writable repositories.
type ProxyEntry struct {
	Prefix string `yaml:"prefix"`
	Proxy  `yaml:",inline"`
}

// Upstreams returns the configured upstreams as prefix/upstream pairs: one
// with prefix "" for `proxy`, or the `proxies` list. Nil when the registry
// proxies nothing.
func (c *Config) Upstreams() []ProxyEntry {
	if c.Proxy != nil {
		return []ProxyEntry{{Proxy: *c.Proxy}}
	}
	return c.Proxies
}

// ExpiresAfter returns the TTL in effect: the default when unset.
func (p Proxy) ExpiresAfter() time.Duration {
	if p.TTL == nil {
		return DefaultProxyTTL
	}
	return p.TTL.Duration
}

// proxies checks the proxy and proxies sections.
func (v *validator) proxies() {
	c := v.c
	if c.Proxy != nil && len(c.Proxies) > 0 {
		v.add("proxies", "proxy and proxies cannot both be set: proxy makes the whole registry one upstream's cache; list it in proxies with a prefix instead")
	}
	if c.Proxy != nil {
		v.upstream("proxy", *c.Proxy)
	}
	if len(c.Upstreams()) > 0 && c.Storage.Maintenance.ReadOnly.Enabled {
		v.add("storage.maintenance.readonly.enabled", "a pull-through cache (proxy or proxies) stores what it fetches: it cannot run on read-only storage")
	}
	for i, p := range c.Proxies {
		path := fmt.Sprintf("proxies[%d]", i)
		switch {
		case p.Prefix == "":
			v.add(path+".prefix", "must not be empty: it is the repository prefix the upstream is served under (e.g. hub)")
		case !reference.ValidRepository(p.Prefix):
			v.add(path+".prefix", "%q is not a repository name prefix (lowercase path components such as hub or mirrors/ghcr)", p.Prefix)
		}
		for j, q := range c.Proxies[:i] {
			if q.Prefix != "" && p.Prefix != "" && overlaps(p.Prefix, q.Prefix) {
				v.add(path+".prefix", "%q overlaps proxies[%d].prefix %q: a repository must belong to one upstream", p.Prefix, j, q.Prefix)
			}
		}
		v.upstream(path, p.Proxy)
	}
}

// overlaps reports whether a repository could fall under both prefixes.
func overlaps(a, b string) bool {
	return a == b || strings.HasPrefix(a, b+"/") || strings.HasPrefix(b, a+"/")
}

func (v *validator) upstream(path string, p Proxy) {
	u, err := url.Parse(p.RemoteURL)
	switch {
	case p.RemoteURL == "":
		v.add(path+".remoteurl", "must be set: the upstream registry's URL, e.g. https://registry-1.docker.io")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "":
		v.add(path+".remoteurl", "want the upstream's base URL such as https://registry-1.docker.io, got %q", p.RemoteURL)
	}
	if (p.Username == "") != (p.Password == "") {
		v.add(path+".username", "username and password go together (set both, or neither for anonymous pulls)")
	}
	if p.TTL != nil {
		switch {
		case p.TTL.invalid != "":
			v.add(path+".ttl", "invalid duration %s (want e.g. 24h, or 0 to never expire)", p.TTL.invalid)
		case p.TTL.Duration < 0:
			v.add(path+".ttl", "must not be negative (0 means never expire)")
		}
	}
}
