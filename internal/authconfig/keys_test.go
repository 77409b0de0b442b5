package authconfig

import (
	"crypto/tls"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/pkg/token"
)

func TestTokenKeysSignFirstAndPublishExtras(t *testing.T) {
	dir := t.TempDir()
	tokKey, tokCert := writeKeyPair(t, dir, "token", "p256")
	srvKey, srvCert := writeKeyPair(t, dir, "server", "p384")
	nextKey, nextCert := writeKeyPair(t, dir, "next", "p384")
	bareKey, _ := writeKeyPair(t, dir, "bare", "p256")

	tests := []struct {
		name      string
		yaml      string
		wantAlgs  []string
		wantChain []bool
		wantTLS   bool
	}{
		{"token pair signs", base, []string{"ES256"}, []bool{true}, false},
		{"token pair wins over the server's", strings.Replace(base, `addr: ":5001"`,
			"addr: \":5001\"\n\tcertificate: SRVCERT\n\tkey: SRVKEY", 1),
			[]string{"ES256"}, []bool{true}, true},
		{"server pair signs when the token has none (docker_auth)", strings.NewReplacer(
			`addr: ":5001"`, "addr: \":5001\"\n\tcertificate: SRVCERT\n\tkey: SRVKEY",
			"\tcertificate: CERT\n", "", "\tkey: KEY\n", "").Replace(base),
			[]string{"ES384"}, []bool{true}, true},
		{"token key without certificate: no x5c", strings.Replace(base, "\tcertificate: CERT\n", "", 1),
			[]string{"ES256"}, []bool{false}, false},
		{"extra keys follow in order", strings.Replace(base, "expiration: 900",
			"expiration: 900\n\textra_keys:\n\t\t- {key: NEXTKEY, certificate: NEXTCERT}\n\t\t- {key: BAREKEY}", 1),
			[]string{"ES256", "ES384", "ES256"}, []bool{true, true, false}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := strings.NewReplacer("SRVCERT", srvCert, "SRVKEY", srvKey, "NEXTCERT", nextCert,
				"NEXTKEY", nextKey, "BAREKEY", bareKey, "CERT", tokCert, "KEY", tokKey).Replace(tt.yaml)
			c, err := Load(writeConfig(t, t.TempDir(), text))
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Keys) != len(tt.wantAlgs) {
				t.Fatalf("%d keys, want %d", len(c.Keys), len(tt.wantAlgs))
			}
			for i, k := range c.Keys {
				if k.Alg != tt.wantAlgs[i] || (len(k.Chain) > 0) != tt.wantChain[i] {
					t.Errorf("key %d: alg %s chain %d, want %s chain %v", i, k.Alg, len(k.Chain), tt.wantAlgs[i], tt.wantChain[i])
				}
				want, err := token.LibtrustKeyID(k.Public())
				if err != nil || k.ID != want {
					t.Errorf("key %d: kid %q, want libtrust %q (%v)", i, k.ID, want, err)
				}
			}
			if (c.TLS != nil) != tt.wantTLS {
				t.Errorf("TLS configured %v, want %v", c.TLS != nil, tt.wantTLS)
			}
		})
	}
}

func TestKidFormatThumbprintAppliesToEveryKey(t *testing.T) {
	dir := t.TempDir()
	key, cert := writeKeyPair(t, dir, "token", "p256")
	extra, _ := writeKeyPair(t, dir, "extra", "rsa")
	for _, setting := range []string{"kid_format: jwk-thumbprint", "disable_legacy_key_id: true"} {
		t.Run(setting, func(t *testing.T) {
			text := strings.NewReplacer("CERT", cert, "KEY", key).Replace(strings.Replace(base, "expiration: 900",
				"expiration: 900\n\t"+setting+"\n\textra_keys: [{key: "+extra+"}]", 1))
			c, err := Load(writeConfig(t, t.TempDir(), text))
			if err != nil {
				t.Fatal(err)
			}
			if c.KeyIDFormat != token.KeyIDThumbprint || len(c.Keys) != 2 {
				t.Fatalf("format %q, %d keys", c.KeyIDFormat, len(c.Keys))
			}
			for i, k := range c.Keys {
				want, err := token.Thumbprint(k.Public())
				if err != nil || k.ID != want {
					t.Errorf("key %d: kid %q, want thumbprint %q (%v)", i, k.ID, want, err)
				}
			}
		})
	}
}

func TestOurAdditionsHaveDefaultsAndParse(t *testing.T) {
	dir := t.TempDir()
	key, cert := writeKeyPair(t, dir, "token", "p256")
	fill := strings.NewReplacer("CERT", cert, "KEY", key)

	c, err := Load(writeConfig(t, t.TempDir(), fill.Replace(base)))
	if err != nil {
		t.Fatal(err)
	}
	maxF, win, maxT := c.Throttle.Limits()
	if maxF != DefaultMaxFailures || win != time.Duration(DefaultWindow)*time.Second || maxT != DefaultMaxTracked {
		t.Errorf("throttle defaults: %d %v %d", maxF, win, maxT)
	}
	if c.CORSMaxAge != DefaultCORSMaxAge*time.Second || c.RefreshLifetime != DefaultRefreshExpiration*time.Second {
		t.Errorf("defaults: cors max age %v, refresh %v", c.CORSMaxAge, c.RefreshLifetime)
	}

	custom := strings.NewReplacer(
		`addr: ":5001"`, `addr: ":5001"
	path_prefix: /auth_server/
	real_ip_header: X-Forwarded-For
	real_ip_pos: -1
	trusted_proxies: [10.0.0.0/8, "::1", 192.168.1.7]
	tls_min_version: TLS12
	tls_curve_preferences: [X25519, P256]
	cors: {allowed_origins: ["https://ui.example.com", "*"], max_age: 0}`,
		"expiration: 900", `expiration: 900
	services: [registry.local, "Docker registry"]
	refresh_expiration: 0`,
	).Replace(base) + "throttle: {max_failures: 0, window: 300, max_tracked: 50}\n"
	c, err = Load(writeConfig(t, t.TempDir(), fill.Replace(custom)))
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.PathPrefix != "/auth_server" {
		t.Errorf("path prefix %q, want trailing slash trimmed", c.Server.PathPrefix)
	}
	wantProxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("192.168.1.7/32")}
	if len(c.TrustedProxies) != 3 || c.TrustedProxies[0] != wantProxies[0] || c.TrustedProxies[1] != wantProxies[1] || c.TrustedProxies[2] != wantProxies[2] {
		t.Errorf("trusted proxies %v, want %v", c.TrustedProxies, wantProxies)
	}
	if c.TLSMinVersion != tls.VersionTLS12 || len(c.CurvePreferences) != 2 || c.CurvePreferences[0] != tls.X25519 {
		t.Errorf("tls: min %x curves %v", c.TLSMinVersion, c.CurvePreferences)
	}
	if c.CORSMaxAge != 0 || len(c.Server.CORS.AllowedOrigins) != 2 {
		t.Errorf("cors: %v %v", c.CORSMaxAge, c.Server.CORS.AllowedOrigins)
	}
	if !c.Services["registry.local"] || !c.Services["Docker registry"] || c.Services["other"] || hasWarning(c, "token.services") {
		t.Errorf("services %v, warnings %q", c.Services, c.Warnings)
	}
	if c.RefreshLifetime != 0 {
		t.Errorf("refresh_expiration: 0 should disable refresh tokens, got %v", c.RefreshLifetime)
	}
	maxF, win, maxT = c.Throttle.Limits()
	if maxF != 0 || win != 300*time.Second || maxT != 50 {
		t.Errorf("throttle: %d %v %d", maxF, win, maxT)
	}
	if hasWarning(c, "real_ip_header") {
		t.Errorf("no warning expected with trusted proxies: %q", c.Warnings)
	}
}

func TestRealIPHeaderWithoutTrustedProxiesWarns(t *testing.T) {
	dir := t.TempDir()
	key, cert := writeKeyPair(t, dir, "token", "p256")
	text := strings.NewReplacer("CERT", cert, "KEY", key, `addr: ":5001"`, "addr: \":5001\"\n\treal_ip_header: X-Real-IP").Replace(base)
	c, err := Load(writeConfig(t, dir, text))
	if err != nil {
		t.Fatal(err)
	}
	if !hasWarning(c, "X-Real-IP") || c.TrustedProxies != nil {
		t.Errorf("warnings %q, proxies %v", c.Warnings, c.TrustedProxies)
	}
}

// A positive real_ip_pos counts from the end the client writes: it is not
// honoured, and the file's author is told.
func TestPositiveRealIPPosWarns(t *testing.T) {
	dir := t.TempDir()
	key, cert := writeKeyPair(t, dir, "token", "p256")
	for pos, warn := range map[string]bool{"2": true, "0": false, "-1": false} {
		text := strings.NewReplacer("CERT", cert, "KEY", key, `addr: ":5001"`,
			"addr: \":5001\"\n\treal_ip_header: X-Forwarded-For\n\treal_ip_pos: "+pos+"\n\ttrusted_proxies: [10.0.0.0/8]").Replace(base)
		c, err := Load(writeConfig(t, dir, text))
		if err != nil {
			t.Fatal(err)
		}
		if hasWarning(c, "server.real_ip_pos") != warn {
			t.Errorf("real_ip_pos %s: warnings %q, want a warning: %v", pos, c.Warnings, warn)
		}
	}
}
