package regconfig

import (
	"reflect"
	"strings"
	"testing"
)

// seedFiles creates stand-ins for the files the seeds mount into their
// containers and returns a function rewriting an environment to use them.
func seedFiles(t *testing.T) func([]string) []string {
	t.Helper()
	dir := t.TempDir()
	paths := map[string]string{}
	for _, p := range []string{
		"/auth/htpasswd", "/cert/hub.weiyigeek.top.crt", "/cert/server.key",
		"/certs/server-crt.pem", "/certs/server-key.pem", "/ssl/server.pem", "/ssl/server.key",
		"/certs/westos.org.crt", "/certs/westos.org.key", "/certs/docker.pem", "/certs/docker.key",
		"/certs/domain.pem", "/certs/domain.key", "/certs/domain.crt",
		"/certs/registry.local.crt", "/certs/registry.local.key",
	} {
		paths[p] = writeFile(t, dir, strings.TrimPrefix(p, "/"), "x")
	}
	return func(env []string) []string {
		out := make([]string, len(env))
		for i, e := range env {
			name, val, _ := strings.Cut(e, "=")
			if p, ok := paths[val]; ok {
				val = p
			}
			out[i] = name + "=" + val
		}
		return out
	}
}

// Each case is a `docker run -e` or compose `environment:` list from the
// seeds, with the values as the process receives them (shell quotes gone,
// compose list quotes kept).
func TestSeedEnvironmentLinesWork(t *testing.T) {
	type expect struct {
		path string // dotted config path for describe()
		want any
	}
	tests := []struct {
		name   string
		env    []string
		expect []expect
	}{
		{
			name: "000 htpasswd",
			env: []string{
				"REGISTRY_AUTH=htpasswd",
				"REGISTRY_AUTH_HTPASSWD_REALM=Registry Realm",
				"REGISTRY_AUTH_HTPASSWD_PATH=/auth/htpasswd",
			},
			expect: []expect{{"auth.mode", "htpasswd"}, {"auth.htpasswd.realm", "Registry Realm"}},
		},
		{
			name: "000 htpasswd and TLS on 443",
			env: []string{
				"REGISTRY_HTTP_ADDR=0.0.0.0:443",
				"REGISTRY_AUTH=htpasswd",
				"REGISTRY_AUTH_HTPASSWD_REALM=Registry Realm",
				"REGISTRY_AUTH_HTPASSWD_PATH=/auth/htpasswd",
				"REGISTRY_HTTP_TLS_CERTIFICATE=/cert/hub.weiyigeek.top.crt",
				"REGISTRY_HTTP_TLS_KEY=/cert/server.key",
			},
			expect: []expect{{"http.addr", "0.0.0.0:443"}, {"tls", true}, {"auth.mode", "htpasswd"}},
		},
		{
			name:   "002 §4.2 schema1 compatibility",
			env:    []string{"REGISTRY_COMPATIBILITY_SCHEMA1_ENABLED=true"},
			expect: []expect{{"warnings", 1}, {"auth.mode", "none"}},
		},
		{
			name: "002 §5.3 TLS, htpasswd, schema1",
			env: []string{
				"REGISTRY_COMPATIBILITY_SCHEMA1_ENABLED=true",
				"REGISTRY_HTTP_TLS_CERTIFICATE=/certs/server-crt.pem",
				"REGISTRY_HTTP_TLS_KEY=/certs/server-key.pem",
				"REGISTRY_AUTH=htpasswd",
				"REGISTRY_AUTH_HTPASSWD_REALM=Registry Realm",
				"REGISTRY_AUTH_HTPASSWD_PATH=/auth/htpasswd",
			},
			expect: []expect{{"tls", true}, {"auth.htpasswd.realm", "Registry Realm"}, {"warnings", 1}},
		},
		{
			name: "002 §7.5 compose token auth",
			env: []string{
				"REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=/var/lib/registry",
				"REGISTRY_AUTH=token",
				"REGISTRY_AUTH_TOKEN_REALM=https://192.168.211.15:5001/auth",
				`REGISTRY_AUTH_TOKEN_SERVICE="Docker registry"`,
				`REGISTRY_AUTH_TOKEN_ISSUER="Auth Service"`,
				"REGISTRY_AUTH_TOKEN_ROOTCERTBUNDLE=/ssl/server.pem",
				"REGISTRY_HTTP_TLS_CERTIFICATE=/ssl/server.pem",
				"REGISTRY_HTTP_TLS_KEY=/ssl/server.key",
			},
			expect: []expect{
				{"auth.mode", "token"},
				{"auth.token.realm", "https://192.168.211.15:5001/auth"},
				{"auth.token.service", "Docker registry"},
				{"auth.token.issuer", "Auth Service"},
				{"root", "/var/lib/registry"},
			},
		},
		{
			name: "002 one-key script",
			env: []string{
				"REGISTRY_HTTP_TLS_CERTIFICATE=/certs/registry.local.crt",
				"REGISTRY_HTTP_TLS_KEY=/certs/registry.local.key",
				"REGISTRY_COMPATIBILITY_SCHEMA1_ENABLED=true",
				"REGISTRY_STORAGE_DELETE_ENABLED=true",
			},
			expect: []expect{{"delete", true}, {"tls", true}},
		},
		{
			name: "003 htpasswd and TLS",
			env: []string{
				"REGISTRY_HTTP_ADDR=0.0.0.0:443",
				"REGISTRY_HTTP_TLS_CERTIFICATE=/certs/westos.org.crt",
				"REGISTRY_HTTP_TLS_KEY=/certs/westos.org.key",
				"REGISTRY_AUTH=htpasswd",
				"REGISTRY_AUTH_HTPASSWD_REALM=Registry Realm",
				"REGISTRY_AUTH_HTPASSWD_PATH=/auth/htpasswd",
			},
			expect: []expect{{"http.addr", "0.0.0.0:443"}, {"auth.htpasswd.realm", "Registry Realm"}},
		},
		{
			name: "004 compose with CORS headers",
			env: []string{
				"REGISTRY_HTTP_HEADERS_Access-Control-Allow-Origin=[<Docker Registry UI地址>]",
				"REGISTRY_HTTP_ADDR=0.0.0.0:443",
				"REGISTRY_HTTP_TLS_CERTIFICATE=/certs/docker.pem",
				"REGISTRY_HTTP_TLS_KEY=/certs/docker.key",
				"REGISTRY_AUTH=htpasswd",
				"REGISTRY_AUTH_HTPASSWD_REALM=Registry Realm",
				"REGISTRY_AUTH_HTPASSWD_PATH=/auth/htpasswd",
				"REGISTRY_HTTP_HEADERS_Access-Control-Allow-Methods=['HEAD', 'GET', 'OPTIONS', 'DELETE']",
				"REGISTRY_HTTP_HEADERS_Access-Control-Allow-Credentials=['true']",
				"REGISTRY_HTTP_HEADERS_Access-Control-Expose-Headers=['Docker-Content-Digest']",
				"REGISTRY_STORAGE_DELETE_ENABLED=true",
				"REGISTRY_HTTP_HEADERS_Access-Control-Allow-Headers-Control-Allow-Headers=['Authorization', 'Accept', 'Cache-Control']",
				"REGISTRY_HTTP_HEADERS_X-Content-Type-Options=[nosniff]",
				"Access-Control-Max-Age=[1728000]",
			},
			expect: []expect{
				{"header Access-Control-Allow-Origin", []string{"<Docker Registry UI地址>"}},
				{"header Access-Control-Allow-Methods", []string{"HEAD", "GET", "OPTIONS", "DELETE"}},
				{"header Access-Control-Allow-Credentials", []string{"true"}},
				{"header Access-Control-Expose-Headers", []string{"Docker-Content-Digest"}},
				{"header Access-Control-Allow-Headers-Control-Allow-Headers", []string{"Authorization", "Accept", "Cache-Control"}},
				{"header X-Content-Type-Options", []string{"nosniff"}},
				{"headers", 6},
				{"delete", true},
				{"warnings", 0},
			},
		},
		{
			name:   "004 docker run CORS origin",
			env:    []string{"REGISTRY_HTTP_HEADERS_Access-Control-Allow-Origin=['*']"},
			expect: []expect{{"header Access-Control-Allow-Origin", []string{"*"}}, {"header X-Content-Type-Options", []string{"nosniff"}}},
		},
		{
			name: "004 htpasswd with domain certificate",
			env: []string{
				"REGISTRY_AUTH=htpasswd",
				"REGISTRY_AUTH_HTPASSWD_REALM=Registry Realm",
				"REGISTRY_AUTH_HTPASSWD_PATH=/auth/htpasswd",
				"REGISTRY_HTTP_TLS_CERTIFICATE=/certs/domain.crt",
				"REGISTRY_HTTP_TLS_KEY=/certs/domain.key",
			},
			expect: []expect{{"auth.mode", "htpasswd"}, {"tls", true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := seedFiles(t)(tt.env)
			c, err := Load("", env)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range tt.expect {
				if got := describe(c, e.path); !reflect.DeepEqual(got, e.want) {
					t.Errorf("%s = %#v, want %#v", e.path, got, e.want)
				}
			}
		})
	}
}

// describe reads one value out of c for table tests.
func describe(c *Config, what string) any {
	if name, ok := strings.CutPrefix(what, "header "); ok {
		return c.HTTP.Headers[name]
	}
	switch what {
	case "auth.mode":
		return c.Auth.Mode()
	case "auth.htpasswd.realm":
		return c.Auth.Htpasswd.Realm
	case "auth.token.realm":
		return c.Auth.Token.Realm
	case "auth.token.service":
		return c.Auth.Token.Service
	case "auth.token.issuer":
		return c.Auth.Token.Issuer
	case "http.addr":
		return c.HTTP.Addr
	case "tls":
		return c.HTTP.TLS.Enabled()
	case "root":
		return c.Storage.Filesystem.RootDirectory
	case "delete":
		return c.Storage.Delete.Enabled
	case "headers":
		return len(c.HTTP.Headers)
	case "warnings":
		return len(c.Warnings)
	}
	return "unknown: " + what
}

func TestEnvironmentOverridesFile(t *testing.T) {
	dir := t.TempDir()
	htpasswd := writeFile(t, dir, "htpasswd", "")
	bundle := writeFile(t, dir, "bundle.pem", "")
	yml := `version: 0.1
http:
  addr: :5000
  headers:
    x-content-type-options: [nosniff]
    Access-Control-Allow-Origin: ['https://old.example']
auth:
  htpasswd:
    realm: file-realm
    path: ` + htpasswd + `
log:
  fields:
    service: registry
`
	path := writeFile(t, dir, "config.yml", yml)

	t.Run("values replace the file's", func(t *testing.T) {
		c, err := Load(path, []string{
			"REGISTRY_HTTP_ADDR=127.0.0.1:6000",
			"REGISTRY_HTTP_HEADERS_ACCESS-CONTROL-ALLOW-ORIGIN=['https://ui.example']",
			"REGISTRY_HTTP_HEADERS_X-Content-Type-Options=[nosniff, extra]",
			"REGISTRY_LOG_FIELDS_ENVIRONMENT=staging",
			"REGISTRY_STORAGE_MAINTENANCE_GC_GRACEPERIOD=2h",
			"REGISTRY_STORAGE_MAINTENANCE_UPLOADPURGING_ENABLED=false",
		})
		if err != nil {
			t.Fatal(err)
		}
		if c.HTTP.Addr != "127.0.0.1:6000" {
			t.Errorf("addr = %q", c.HTTP.Addr)
		}
		if got := c.HTTP.Headers["Access-Control-Allow-Origin"]; !reflect.DeepEqual(got, []string{"https://ui.example"}) {
			t.Errorf("origin = %q, want the environment's only", got)
		}
		if got := c.HTTP.Headers["X-Content-Type-Options"]; !reflect.DeepEqual(got, []string{"nosniff", "extra"}) {
			t.Errorf("nosniff header = %q", got)
		}
		if c.Log.Fields["environment"] != "staging" || c.Log.Fields["service"] != "registry" {
			t.Errorf("fields = %v", c.Log.Fields)
		}
		if c.Storage.Maintenance.GC.GracePeriod.Hours() != 2 {
			t.Errorf("grace = %v", c.Storage.Maintenance.GC.GracePeriod)
		}
		if c.Storage.Maintenance.UploadPurging.On() {
			t.Error("purging still on")
		}
	})

	t.Run("same auth mode keeps the file's settings", func(t *testing.T) {
		c, err := Load(path, []string{"REGISTRY_AUTH=htpasswd"})
		if err != nil {
			t.Fatal(err)
		}
		if c.Auth.Htpasswd.Realm != "file-realm" {
			t.Errorf("realm = %q", c.Auth.Htpasswd.Realm)
		}
	})

	t.Run("another auth mode replaces the file's", func(t *testing.T) {
		c, err := Load(path, []string{
			"REGISTRY_AUTH=token",
			"REGISTRY_AUTH_TOKEN_REALM=https://auth.example/auth",
			"REGISTRY_AUTH_TOKEN_SERVICE=registry",
			"REGISTRY_AUTH_TOKEN_ISSUER=issuer",
			"REGISTRY_AUTH_TOKEN_ROOTCERTBUNDLE=" + bundle,
		})
		if err != nil {
			t.Fatal(err)
		}
		if c.Auth.Mode() != "token" || c.Auth.Htpasswd != nil {
			t.Errorf("auth = %+v", c.Auth)
		}
	})

	t.Run("none switches authentication off", func(t *testing.T) {
		c, err := Load(path, []string{"REGISTRY_AUTH=none"})
		if err != nil {
			t.Fatal(err)
		}
		if c.Auth.Mode() != "none" {
			t.Errorf("mode = %s", c.Auth.Mode())
		}
	})

	t.Run("a problem from the environment names the variable", func(t *testing.T) {
		_, err := Load(path, []string{"REGISTRY_AUTH=token", "REGISTRY_AUTH_TOKEN_REALM=auth"})
		ps := problems(t, err)
		found := false
		for _, p := range ps {
			if p.File == "environment" && strings.HasPrefix(p.Field, "REGISTRY_AUTH_TOKEN_REALM") {
				found = true
			}
		}
		if !found {
			t.Errorf("no problem names REGISTRY_AUTH_TOKEN_REALM:\n%v", err)
		}
	})
}

func TestServiceLinksAndTheVersionVariableWarnButDoNotFail(t *testing.T) {
	c, err := Load("", []string{
		"REGISTRY_PORT=tcp://10.0.0.7:5000",
		"REGISTRY_PORT_5000_TCP_ADDR=10.0.0.7",
		"REGISTRY_SERVICE_HOST=10.0.0.7",
		"REGISTRY_UI_SERVICE_PORT_HTTP=80", // a Service "registry-ui"
		"REGISTRY_VERSION=0.2",
		"PATH=/usr/bin",
		"registry_http_addr=:1",
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 5 {
		t.Errorf("want 5 warnings, got %q", c.Warnings)
	}
	for _, w := range c.Warnings {
		if !strings.Contains(w, "REGISTRY_") {
			t.Errorf("warning %q does not name the variable", w)
		}
	}
	if c.HTTP.Addr != ":5000" || c.Version != "0.1" {
		t.Errorf("addr %q version %q changed", c.HTTP.Addr, c.Version)
	}
}

// A variable below a YAML alias edits that place only, not the anchor's
// other uses.
func TestVariableBelowAnAliasEditsOnlyThatPlace(t *testing.T) {
	path := writeFile(t, t.TempDir(), "config.yml", "storage:\n  filesystem:\n    rootdirectory: /data\n  maintenance:\n    readonly: &off\n      enabled: false\n  delete: *off\n")
	c, err := Load(path, []string{"REGISTRY_STORAGE_DELETE_ENABLED=true"})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Storage.Delete.Enabled || c.Storage.Maintenance.ReadOnly.Enabled {
		t.Errorf("delete %v, read-only %v: want delete on and read-only still off", c.Storage.Delete.Enabled, c.Storage.Maintenance.ReadOnly.Enabled)
	}
}
