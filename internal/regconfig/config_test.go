package regconfig

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/internal/yamlconf"
)

// writeFile writes content to name in dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// problems returns err's problems, failing the test if err is not Problems.
func problems(t *testing.T, err error) yamlconf.Problems {
	t.Helper()
	var ps yamlconf.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("want yamlconf.Problems, got %T: %v", err, err)
	}
	return ps
}

// The config from seed 002 §6.2, with its top-level `threshold: 3` that was
// meant to sit under health.storagedriver.
const seedConfig62 = `version: 0.1
log:
  accesslog:
    disabled: true
  level: debug
  formatter: text
  fields:
    service: registry
    environment: staging
storage:
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /var/lib/registry
auth:
  htpasswd:
    realm: basic-realm
    path: HTPASSWD
http:
  addr: :443
  host: https://docker.domain.com
  headers:
    X-Content-Type-Options: [nosniff]
  http2:
    disabled: false
  tls:
    certificate: CERT
    key: KEY
health:
  storagedriver:
    enabled: true
    interval: 10s
threshold: 3
`

func TestMisindentedSeedKeyIsRejectedWithLineAndSuggestion(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "config.yml", seedConfig62)
	_, err := Load(path, nil)
	ps := problems(t, err)
	// The seed's files do not exist here: those problems are reported in the
	// same pass, after the unknown key.
	if len(ps) != 4 || ps[1].Field != "http.tls.certificate" || ps[2].Field != "http.tls.key" || ps[3].Field != "auth.htpasswd.path" {
		t.Fatalf("want the unknown key then the three missing files, got %d: %v", len(ps), err)
	}
	p := ps[0]
	if p.File != path || p.Line != 35 || p.Field != "threshold" {
		t.Errorf("problem at %s:%d field %q, want %s:35 field threshold", p.File, p.Line, p.Field, path)
	}
	if !strings.Contains(p.Msg, "health.storagedriver.threshold") {
		t.Errorf("message %q does not suggest health.storagedriver.threshold", p.Msg)
	}
	if !strings.Contains(err.Error(), path+":35: threshold: unknown field") {
		t.Errorf("rendered error %q lacks file:line: field", err)
	}
}

func TestSeedConfigLoadsOnceIndentedCorrectly(t *testing.T) {
	dir := t.TempDir()
	r := strings.NewReplacer(
		"HTPASSWD", writeFile(t, dir, "auth/nginx.htpasswd", "u:$2y$05$MO4iv425uurfqY2Y/X71TuNTUPu4Vrn.oNE4NxRTjsPTTU6QywiwG\n"),
		"CERT", writeFile(t, dir, "ssl/site.crt", "cert"),
		"KEY", writeFile(t, dir, "ssl/site.key", "key"),
		"\nthreshold: 3", "\n    threshold: 3",
	)
	c, err := Load(writeFile(t, dir, "config.yml", r.Replace(seedConfig62)), nil)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"threshold", c.Health.StorageDriver.Threshold, 3},
		{"interval", c.Health.StorageDriver.Interval.Duration, 10 * time.Second},
		{"auth mode", c.Auth.Mode(), "htpasswd"},
		{"realm", c.Auth.Htpasswd.Realm, "basic-realm"},
		{"delete", c.Storage.Delete.Enabled, true},
		{"addr", c.HTTP.Addr, ":443"},
		{"host", c.HTTP.Host, "https://docker.domain.com"},
		{"accesslog", c.Log.AccessLog.Disabled, true},
		{"level", c.Log.Level, "debug"},
		{"field", c.Log.Fields["environment"], "staging"},
		{"nosniff", c.HTTP.Headers.Get("X-Content-Type-Options"), "nosniff"},
		{"tls", c.HTTP.TLS.Enabled(), true},
		{"purging on by default", c.Storage.Maintenance.UploadPurging.On(), true},
		{"purge age default", c.Storage.Maintenance.UploadPurging.Age.Duration, DefaultPurgeAge},
		{"gc off by default", c.Storage.Maintenance.GC.Enabled, false},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestStrictLoadingNamesFileLineAndField(t *testing.T) {
	tests := []struct {
		name     string
		yaml     string
		line     int
		field    string
		contains string
	}{
		{"typo in a nested key", "storage:\n  filesystem:\n    rootdirectry: /x\n", 3, "storage.filesystem.rootdirectry", `did you mean "rootdirectory"`},
		{"unknown section", "version: 0.1\nnotification:\n  endpoints: []\n", 2, "notification", "unknown field"},
		{"key in the wrong section", "http:\n  realm: x\n", 2, "http.realm", "auth.htpasswd.realm or auth.token.realm"},
		{"wrong type", "storage:\n  delete:\n    enabled: maybe\n", 3, "", "bool"},
		{"bad duration", "storage:\n  maintenance:\n    uploadpurging:\n      age: forever\n", 4, "storage.maintenance.uploadpurging.age", `invalid duration "forever"`},
		{"headers must be lists", "http:\n  headers:\n    X-A: b\n", 3, "", "[]string"},
		{"unsupported version", "version: 0.2\n", 1, "version", "unsupported version"},
		{"bad log level", "log:\n  level: loud\n", 2, "log.level", "unknown level"},
		{"bad addr", "http:\n  addr: 5000\n", 2, "http.addr", "host:port"},
		{"relative host", "http:\n  host: docker.domain.com\n", 2, "http.host", "absolute URL"},
		{"bad header name", "http:\n  headers:\n    \"Bad Header\": [x]\n", 3, "http.headers.Bad Header", "not a valid header name"},
		{"tls key without certificate", "http:\n  tls:\n    key: /nonexistent/key\n", 2, "http.tls.certificate", "required"},
		{"missing htpasswd file", "auth:\n  htpasswd:\n    realm: r\n    path: /nonexistent/htpasswd\n", 4, "auth.htpasswd.path", "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "config.yml", tt.yaml)
			_, err := Load(path, nil)
			ps := problems(t, err)
			for _, p := range ps {
				if p.File == path && p.Line == tt.line && (tt.field == "" || p.Field == tt.field) && strings.Contains(p.Msg, tt.contains) {
					return
				}
			}
			t.Errorf("no problem at line %d field %q containing %q; got:\n%v", tt.line, tt.field, tt.contains, err)
		})
	}
}

func TestValidateReportsEveryProblemAtOnce(t *testing.T) {
	yml := `version: 0.1
storage:
  maintenance:
    gc:
      interval: soon
      graceperiod: -1h
auth:
  htpasswd:
    realm: r
    path: /nonexistent/htpasswd
  token:
    realm: /auth
health:
  storagedriver:
    threshold: -2
`
	path := writeFile(t, t.TempDir(), "config.yml", yml)
	_, err := Load(path, nil)
	ps := problems(t, err)
	want := map[string]int{ // field -> line
		"storage.maintenance.gc.interval":    5,
		"storage.maintenance.gc.graceperiod": 6,
		"auth":                               7,
		"auth.htpasswd.path":                 10,
		"auth.token.realm":                   12,
		"auth.token.service":                 11,
		"auth.token.issuer":                  11,
		"auth.token":                         11,
		"health.storagedriver.threshold":     15,
	}
	got := map[string]int{}
	for _, p := range ps {
		got[p.Field] = p.Line
	}
	for field, line := range want {
		if l, ok := got[field]; !ok || l != line {
			t.Errorf("field %s: got line %d (present %v), want line %d", field, l, ok, line)
		}
	}
	if len(ps) != len(want) {
		t.Errorf("got %d problems, want %d:\n%v", len(ps), len(want), err)
	}
}

func TestEmptyAuthSectionIsNotSilentlyOpen(t *testing.T) {
	path := writeFile(t, t.TempDir(), "config.yml", "auth:\n  htpasswd:\n")
	_, err := Load(path, nil)
	ps := problems(t, err)
	fields := map[string]bool{}
	for _, p := range ps {
		fields[p.Field] = true
	}
	if !fields["auth.htpasswd.realm"] || !fields["auth.htpasswd.path"] {
		t.Errorf("want realm and path reported as required, got:\n%v", err)
	}
}

func TestNoConfigFileMeansRegistryImageDefaults(t *testing.T) {
	c, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"addr", c.HTTP.Addr, ":5000"},
		{"root", c.Storage.Filesystem.RootDirectory, "/var/lib/registry"},
		{"nosniff", c.HTTP.Headers.Get("X-Content-Type-Options"), "nosniff"},
		{"header count", len(c.HTTP.Headers), 1},
		{"auth", c.Auth.Mode(), "none"},
		{"delete", c.Storage.Delete.Enabled, false},
		{"health", c.Health.StorageDriver.Enabled, true},
		{"threshold", c.Health.StorageDriver.Threshold, 3},
		{"gc grace", c.Storage.Maintenance.GC.GracePeriod.Duration, time.Hour},
		{"warnings", len(c.Warnings), 0},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestExplicitEmptyHeadersAreKept(t *testing.T) {
	path := writeFile(t, t.TempDir(), "config.yml", "http:\n  headers: {}\n")
	c, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.HTTP.Headers) != 0 {
		t.Errorf("headers = %v, want none: the file asked for none", c.HTTP.Headers)
	}
}

func TestSchema1CompatibilityIsAcceptedWithAWarning(t *testing.T) {
	path := writeFile(t, t.TempDir(), "config.yml", "compatibility:\n  schema1:\n    enabled: true\n")
	c, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "schema1") {
		t.Errorf("warnings = %q, want one about schema1", c.Warnings)
	}
}

// A JWKS over plain http:// lets anyone on the way swap the keys and forge
// every token: refused unless the config names the risk.
func TestPlainHTTPJWKSNeedsTheRiskNamed(t *testing.T) {
	const token = "auth:\n  token:\n    realm: https://auth.example/token\n    service: registry\n    issuer: auth\n"
	tests := []struct {
		name  string
		file  string
		env   []string
		field string // "" when it loads
		line  int
		warn  bool
	}{
		{"http URL", token + "    jwks: http://auth:5001/jwks.json\n", nil, "auth.token.jwks", 6, false},
		{"HTTP URL in capitals", token + "    jwks: HTTP://auth:5001/jwks.json\n", nil, "auth.token.jwks", 6, false},
		{"http URL with the risk named", token + "    jwks: http://auth:5001/jwks.json\n    jwksinsecurehttp: true\n", nil, "", 0, true},
		{"https URL", token + "    jwks: https://auth.example/jwks.json\n", nil, "", 0, false},
		{"http URL by variable", token, []string{"REGISTRY_AUTH_TOKEN_JWKS=http://auth:5001/jwks.json"},
			"REGISTRY_AUTH_TOKEN_JWKS (auth.token.jwks)", 0, false},
		{"risk named by variable", token, []string{"REGISTRY_AUTH_TOKEN_JWKS=http://auth:5001/jwks.json", "REGISTRY_AUTH_TOKEN_JWKSINSECUREHTTP=true"},
			"", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(writeFile(t, t.TempDir(), "config.yml", tt.file), tt.env)
			if tt.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got := len(c.Warnings) == 1 && strings.Contains(c.Warnings[0], "plain http://"); got != tt.warn {
					t.Errorf("warnings %q, want a warning about plain http: %v", c.Warnings, tt.warn)
				}
				return
			}
			ps := problems(t, err)
			if len(ps) != 1 || ps[0].Field != tt.field || ps[0].Line != tt.line || !strings.Contains(ps[0].Msg, "jwksinsecurehttp: true") {
				t.Errorf("want one problem at %s line %d naming jwksinsecurehttp, got:\n%v", tt.field, tt.line, err)
			}
		})
	}
}

func TestDebugListenerSettings(t *testing.T) {
	c, err := Load("", []string{"REGISTRY_HTTP_DEBUG_ADDR=127.0.0.1:5001", "REGISTRY_HTTP_DEBUG_PROMETHEUS_ENABLED=true", "REGISTRY_HTTP_DEBUG_PROMETHEUS_PATH=/prom"})
	if err != nil {
		t.Fatal(err)
	}
	if d := c.HTTP.Debug; d.Addr != "127.0.0.1:5001" || d.Prometheus.Enabled == nil || !*d.Prometheus.Enabled || d.Prometheus.Path != "/prom" {
		t.Errorf("debug = %+v", d)
	}
	tests := []struct {
		file, field, msg string
	}{
		{"http:\n  addr: :5000\n  debug:\n    addr: :5000\n", "http.debug.addr", "must differ from http.addr"},
		{"http:\n  debug:\n    addr: 5001\n", "http.debug.addr", "host:port"},
		{"http:\n  debug:\n    addr: :5001\n    prometheus:\n      path: /debug/health\n", "http.debug.prometheus.path", "outside /debug/"},
		{"http:\n  debug:\n    addr: :5001\n    prometheus:\n      path: metrics\n", "http.debug.prometheus.path", "starting with /"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := Load(writeFile(t, t.TempDir(), "config.yml", tt.file), nil)
			ps := problems(t, err)
			if len(ps) != 1 || ps[0].Field != tt.field || !strings.Contains(ps[0].Msg, tt.msg) {
				t.Errorf("want one problem at %s containing %q, got:\n%v", tt.field, tt.msg, err)
			}
		})
	}
}
