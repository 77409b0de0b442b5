package regconfig

import (
	"strings"
	"testing"
)

// A registry:2 key for a feature this registry lacks stops start-up, with
// the file's line or the variable's name: a registry configured to send
// notifications must not start and drop them.
func TestRegistry2FeaturesWeLackStopLoading(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		env   []string
		field string
		line  int
		want  string
	}{
		{"notifications", "notifications:\n  endpoints:\n    - name: hook\n      url: https://hook.example\n", nil,
			"notifications", 1, "registry:2's notifications is not supported"},
		{"notifications by variable", "", []string{"REGISTRY_NOTIFICATIONS_ENDPOINTS=[{name: a, url: 'https://a'}]"},
			"REGISTRY_NOTIFICATIONS_ENDPOINTS", 0, "registry:2's notifications is not supported"},
		{"redis", "redis:\n  addr: redis:6379\n", nil, "redis", 1, "registry:2's redis is not supported"},
		{"redis by variable", "", []string{"REGISTRY_REDIS_ADDR=redis:6379"}, "REGISTRY_REDIS_ADDR", 0, "registry:2's redis is not supported"},
		{"middleware", "middleware:\n  storage:\n    - name: cloudfront\n", nil, "middleware", 1, "registry:2's middleware is not supported"},
		{"validation", "validation:\n  manifests:\n    urls:\n      allow: ['^https://']\n", nil, "validation", 1, "registry:2's validation is not supported"},
		{"silly auth", "auth:\n  silly:\n    realm: r\n", nil, "auth.silly", 2, "registry:2's auth.silly is not supported"},
		{"silly auth by mode", "", []string{"REGISTRY_AUTH=silly"}, "REGISTRY_AUTH", 0, "registry:2's auth.silly is not supported"},
		{"silly auth by key", "", []string{"REGISTRY_AUTH_SILLY_REALM=r"}, "REGISTRY_AUTH_SILLY_REALM", 0, "registry:2's auth.silly is not supported"},
		{"let's encrypt", "http:\n  tls:\n    letsencrypt:\n      email: a@example.com\n", nil,
			"http.tls.letsencrypt", 3, "registry:2's http.tls.letsencrypt is not supported"},
		{"let's encrypt inside a section's variable", "", []string{"REGISTRY_HTTP_TLS={letsencrypt: {email: a@example.com}}"},
			"REGISTRY_HTTP_TLS", 0, "registry:2's http.tls.letsencrypt is not supported"},
		{"cipher suites", "http:\n  tls:\n    ciphersuites: [TLS_AES_128_GCM_SHA256]\n", nil,
			"http.tls.ciphersuites", 3, "registry:2's http.tls.ciphersuites is not supported"},
		{"another storage driver", "storage:\n  gcs:\n    bucket: b\n", nil, "storage.gcs", 2, "registry:2's storage.gcs is not supported"},
		{"another storage driver by variable", "", []string{"REGISTRY_STORAGE_AZURE_ACCOUNTNAME=a"},
			"REGISTRY_STORAGE_AZURE_ACCOUNTNAME", 0, "registry:2's storage.azure is not supported"},
		{"health checks of files", "health:\n  file:\n    - file: /tmp/down\n", nil, "health.file", 2, "registry:2's health.file is not supported"},
		{"log hooks", "log:\n  hooks:\n    - type: mail\n", nil, "log.hooks", 2, "registry:2's log.hooks is not supported"},
		{"the deprecated loglevel", "loglevel: debug\n", nil, "loglevel", 1, "use log.level"},
		{"unix sockets", "http:\n  net: unix\n  addr: /run/registry.sock\n", nil, "http.net", 2, "not supported by this server (TCP only)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeFile(t, t.TempDir(), "config.yml", tt.file)
			}
			_, err := Load(path, tt.env)
			for _, p := range problems(t, err) {
				if p.Field == tt.field && p.Line == tt.line && strings.Contains(p.Msg, tt.want) {
					return
				}
			}
			t.Errorf("want a problem at %s line %d containing %q, got:\n%v", tt.field, tt.line, tt.want, err)
		})
	}
}

// A REGISTRY_* variable naming no setting is an error, unless it is one of
// the service links Kubernetes puts in every pod.
func TestVariablesNamingNoSettingAreErrors(t *testing.T) {
	tests := []struct {
		env  string
		want string
	}{
		{"REGISTRY_HTTP_ADRESS=:5000", `http has no "adress"`},
		{"REGISTRY_STORAGE_DELETE_ENABLE=true", `storage.delete has no "enable"`},
		{"REGISTRY_HTTP_ADDR_HOST=0.0.0.0", "http.addr is a single value"},
		{"REGISTRY_HEALTH_STORAGEDRIVER_INTERVAL_SECONDS=10", "health.storagedriver.interval is a single value"},
		{"REGISTRY_ROOTDIRECTORY=/data", `no top-level "rootdirectory"`},
		{"REGISTRY_HTTP_HEADERS_=x", "names no configuration setting"},
		// Shaped like service links, but not what Kubernetes writes.
		{"REGISTRY_PORT=5000x", "names no configuration setting"},
		{"REGISTRY_SERVICE_HOST=registry.example.com", "names no configuration setting"},
	}
	for _, tt := range tests {
		name, _, _ := strings.Cut(tt.env, "=")
		t.Run(tt.env, func(t *testing.T) {
			_, err := Load("", []string{tt.env})
			ps := problems(t, err)
			if len(ps) != 1 || ps[0].Field != name || !strings.Contains(ps[0].Msg, tt.want) {
				t.Errorf("want one problem for %s containing %q, got:\n%v", name, tt.want, err)
			}
		})
	}
}

func TestKubernetesServiceLinksOnlyWarn(t *testing.T) {
	env := []string{
		// Service "registry".
		"REGISTRY_SERVICE_HOST=10.0.0.7",
		"REGISTRY_SERVICE_PORT=5000",
		"REGISTRY_SERVICE_PORT_HTTP=5000",
		"REGISTRY_PORT=tcp://10.0.0.7:5000",
		"REGISTRY_PORT_5000_TCP=tcp://10.0.0.7:5000",
		"REGISTRY_PORT_5000_TCP_PROTO=tcp",
		"REGISTRY_PORT_5000_TCP_PORT=5000",
		"REGISTRY_PORT_5000_TCP_ADDR=10.0.0.7",
		// Services "registry-redis" and "registry-auth-token": their
		// names run into registry:2's sections and settings.
		"REGISTRY_REDIS_SERVICE_HOST=10.0.0.8",
		"REGISTRY_REDIS_PORT_6379_TCP_ADDR=fd00::8",
		"REGISTRY_AUTH_TOKEN_SERVICE_HOST=10.0.0.9",
		"REGISTRY_AUTH_TOKEN_PORT=tcp://[fd00::9]:5001",
	}
	c, err := Load("", env)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != len(env) {
		t.Fatalf("want %d warnings, got %q", len(env), c.Warnings)
	}
	warned := strings.Join(c.Warnings, "\n") + "\n"
	for _, e := range env {
		name, _, _ := strings.Cut(e, "=")
		if !strings.Contains(warned, "variable "+name+": a Kubernetes service link") {
			t.Errorf("no warning names %s as a service link:\n%s", name, warned)
		}
	}
}

func TestRegistry2InformationalKeysLoadWithAWarning(t *testing.T) {
	tests := []struct {
		file string
		warn string // "" for none
	}{
		{"storage:\n  cache:\n    blobdescriptor: inmemory\n", ""},
		{"http:\n  secret: s3cr3t\n", ""},
		{"http:\n  net: tcp\n", ""},
		{"compatibility:\n  schema1:\n    signingkeyfile: /etc/key.json\n", "compatibility.schema1.signingkeyfile"},
		{"storage:\n  filesystem:\n    rootdirectory: /x\n    maxthreads: 100\n", "storage.filesystem.maxthreads"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c, err := Load(writeFile(t, t.TempDir(), "config.yml", tt.file), nil)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.warn == "" && len(c.Warnings) != 0:
				t.Errorf("want no warning, got %q", c.Warnings)
			case tt.warn != "" && (len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], tt.warn)):
				t.Errorf("want one warning naming %s, got %q", tt.warn, c.Warnings)
			}
		})
	}
}
