package regproxy

import (
	"testing"
	"time"

	"github.com/wharf-registry/wharf/internal/regconfig"
)

// Local names map to the upstream's as the docker CLI maps Docker Hub's:
// the prefix goes, and a one-component name on Docker Hub is library/.
func TestLocalNamesMapToUpstreamNames(t *testing.T) {
	tests := []struct {
		prefix, remote, local string
		wantBase, wantName    string
	}{
		{"hub", "https://registry-1.docker.io", "hub/alpine", "https://registry-1.docker.io", "library/alpine"},
		{"hub", "https://docker.io", "hub/bitnami/redis", "https://registry-1.docker.io", "bitnami/redis"},
		{"", "https://index.docker.io", "alpine", "https://registry-1.docker.io", "library/alpine"},
		{"", "https://registry-1.docker.io", "library/alpine", "https://registry-1.docker.io", "library/alpine"},
		{"ghcr", "https://ghcr.io", "ghcr/alpine", "https://ghcr.io", "alpine"},
		{"mirrors/q", "http://localhost:5001", "mirrors/q/team/app", "http://localhost:5001", "team/app"},
	}
	for _, tt := range tests {
		u := newUpstream(regconfig.ProxyEntry{Prefix: tt.prefix, Proxy: regconfig.Proxy{RemoteURL: tt.remote}}, time.Now)
		if !u.owns(tt.local) {
			t.Errorf("%s on prefix %q: not owned", tt.local, tt.prefix)
		}
		if u.base != tt.wantBase || u.remoteName(tt.local) != tt.wantName {
			t.Errorf("%s via %s: %s/%s, want %s/%s", tt.local, tt.remote, u.base, u.remoteName(tt.local), tt.wantBase, tt.wantName)
		}
	}
	u := newUpstream(regconfig.ProxyEntry{Prefix: "hub", Proxy: regconfig.Proxy{RemoteURL: "https://registry-1.docker.io"}}, time.Now)
	for _, name := range []string{"hubx/alpine", "hub", "other/hub/alpine"} {
		if u.owns(name) {
			t.Errorf("prefix hub owns %q", name)
		}
	}
}

func TestChallengesParseAsRegistriesSendThem(t *testing.T) {
	tests := []struct {
		header string
		want   challenge
	}{
		{`Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"`,
			challenge{"bearer", map[string]string{"realm": "https://auth.docker.io/token", "service": "registry.docker.io", "scope": "repository:library/alpine:pull"}}},
		{`Basic realm="Registry Realm"`, challenge{"basic", map[string]string{"realm": "Registry Realm"}}},
		{`bearer realm="http://x/a,b", service=svc`, challenge{"bearer", map[string]string{"realm": "http://x/a,b", "service": "svc"}}},
		{`Bearer realm="q\"uote"`, challenge{"bearer", map[string]string{"realm": `q"uote`}}},
	}
	for _, tt := range tests {
		got := parseChallenge(tt.header)
		if got.scheme != tt.want.scheme || len(got.params) != len(tt.want.params) {
			t.Errorf("%s: got %+v, want %+v", tt.header, got, tt.want)
			continue
		}
		for k, v := range tt.want.params {
			if got.params[k] != v {
				t.Errorf("%s: %s = %q, want %q", tt.header, k, got.params[k], v)
			}
		}
	}
}
