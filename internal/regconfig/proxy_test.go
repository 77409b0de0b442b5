package regconfig

import (
	"strings"
	"testing"
	"time"
)

// registry:2's mirror recipe works unchanged: the proxy section in the file
// or as REGISTRY_PROXY_* variables, with registry:2's default TTL.
func TestProxySectionIsRegistry2s(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		env     []string
		want    Proxy
		wantTTL time.Duration
	}{
		{"the mirror recipe's variable", "", []string{"REGISTRY_PROXY_REMOTEURL=https://registry-1.docker.io"},
			Proxy{RemoteURL: "https://registry-1.docker.io"}, DefaultProxyTTL},
		{"every variable", "", []string{"REGISTRY_PROXY_REMOTEURL=http://localhost:5001", "REGISTRY_PROXY_USERNAME=bot",
			"REGISTRY_PROXY_PASSWORD=s: cret", "REGISTRY_PROXY_TTL=0"},
			Proxy{RemoteURL: "http://localhost:5001", Username: "bot", Password: "s: cret"}, 0},
		{"in the file", "version: 0.1\nproxy:\n  remoteurl: https://ghcr.io\n  ttl: 2h\n", nil,
			Proxy{RemoteURL: "https://ghcr.io"}, 2 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeFile(t, t.TempDir(), "config.yml", tt.file)
			}
			c, err := Load(path, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			ups := c.Upstreams()
			if len(ups) != 1 || ups[0].Prefix != "" {
				t.Fatalf("upstreams = %+v, want the one proxy on every repository", ups)
			}
			got := ups[0].Proxy
			if got.RemoteURL != tt.want.RemoteURL || got.Username != tt.want.Username || got.Password != tt.want.Password {
				t.Errorf("proxy = %+v, want %+v", got, tt.want)
			}
			if got.ExpiresAfter() != tt.wantTTL {
				t.Errorf("ttl = %v, want %v", got.ExpiresAfter(), tt.wantTTL)
			}
		})
	}
}

func TestProxiesListHasAPrefixEach(t *testing.T) {
	file := `proxies:
  - prefix: hub
    remoteurl: https://registry-1.docker.io
    ttl: 24h
  - prefix: ghcr
    remoteurl: https://ghcr.io
    username: bot
    password: pw
`
	c, err := Load(writeFile(t, t.TempDir(), "config.yml", file), nil)
	if err != nil {
		t.Fatal(err)
	}
	ups := c.Upstreams()
	if len(ups) != 2 || ups[0].Prefix != "hub" || ups[0].ExpiresAfter() != 24*time.Hour ||
		ups[1].Prefix != "ghcr" || ups[1].Username != "bot" || ups[1].ExpiresAfter() != DefaultProxyTTL {
		t.Errorf("upstreams = %+v", ups)
	}
}

// Every mistake names its field and line.
func TestProxyMistakesAreReported(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		field string
		line  int
		want  string
	}{
		{"proxy and proxies", "proxy:\n  remoteurl: https://a.example\nproxies:\n  - prefix: hub\n    remoteurl: https://b.example\n",
			"proxies", 3, "proxy and proxies cannot both be set"},
		{"overlapping prefixes", "proxies:\n  - prefix: hub\n    remoteurl: https://a.example\n  - prefix: hub/library\n    remoteurl: https://b.example\n",
			"proxies[1].prefix", 4, `"hub/library" overlaps proxies[0].prefix "hub"`},
		{"the same prefix twice", "proxies:\n  - prefix: hub\n    remoteurl: https://a.example\n  - prefix: hub\n    remoteurl: https://b.example\n",
			"proxies[1].prefix", 4, "overlaps"},
		{"no prefix", "proxies:\n  - remoteurl: https://a.example\n", "proxies[0].prefix", 2, "must not be empty"},
		{"a prefix that is no name", "proxies:\n  - prefix: Hub\n    remoteurl: https://a.example\n", "proxies[0].prefix", 2, "not a repository name prefix"},
		{"no remote", "proxy:\n  username: a\n  password: b\n", "proxy.remoteurl", 1, "must be set"},
		{"a remote with a path", "proxy:\n  remoteurl: https://a.example/v2/\n", "proxy.remoteurl", 2, "base URL"},
		{"a user without a password", "proxy:\n  remoteurl: https://a.example\n  username: a\n", "proxy.username", 3, "go together"},
		{"a bad ttl", "proxy:\n  remoteurl: https://a.example\n  ttl: soon\n", "proxy.ttl", 3, "invalid duration"},
		{"a negative ttl", "proxy:\n  remoteurl: https://a.example\n  ttl: -1h\n", "proxy.ttl", 3, "negative"},
		{"read-only storage", "proxy:\n  remoteurl: https://a.example\nstorage:\n  maintenance:\n    readonly:\n      enabled: true\n",
			"storage.maintenance.readonly.enabled", 6, "cannot run on read-only storage"},
		{"a misspelt key", "proxies:\n  - prefix: hub\n    remoteurl: https://a.example\n    tll: 1h\n", "proxies[0].tll", 4, "ttl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(writeFile(t, t.TempDir(), "config.yml", tt.file), nil)
			for _, p := range problems(t, err) {
				if p.Field == tt.field && p.Line == tt.line && strings.Contains(p.Msg, tt.want) {
					return
				}
			}
			t.Errorf("want a problem at %s line %d containing %q, got:\n%v", tt.field, tt.line, tt.want, err)
		})
	}
}
