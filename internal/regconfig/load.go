package regconfig

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/wharf-registry/wharf/internal/yamlconf"
)

// imageConfig is the config.yml the registry:2 image ships in
// /etc/docker/registry/config.yml. Running with no file at all means running
// with this one, so `docker run -e REGISTRY_...` lines written for registry:2
// behave the same here.
const imageConfig = `version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /var/lib/registry
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
`

// Defaults for settings a config file leaves out.
const (
	DefaultAddr          = ":5000"
	DefaultRootDirectory = "/var/lib/registry"
	DefaultPurgeAge      = 168 * time.Hour
	DefaultPurgeInterval = 24 * time.Hour
	DefaultGCInterval    = 24 * time.Hour
	DefaultGCGracePeriod = time.Hour
	DefaultHealthEvery   = 10 * time.Second
)

// Load reads the config file at path (path == "" means registry:2's image
// default), applies REGISTRY_* overrides from environ (KEY=value entries, as
// os.Environ returns them) and validates the result. The error, when not
// nil, is a yamlconf.Problems listing every problem found.
func Load(path string, environ []string) (*Config, error) {
	name, data := "(built-in defaults)", []byte(imageConfig)
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, yamlconf.Problems{{File: path, Msg: err.Error()}}
		}
		name, data = path, b
	}
	c, err := decode(name, data)
	if c == nil {
		return nil, err
	}
	// Problems of the file, of the environment and of validation, all in
	// one report.
	var ps yamlconf.Problems
	if err != nil && !errors.As(err, &ps) {
		return nil, err
	}
	ps = append(ps, c.applyEnv(environ)...)
	c.HTTP.Headers = canonicalHeaders(c.HTTP.Headers)
	if c.Compatibility.Schema1.Enabled {
		c.Warnings = append(c.Warnings, "compatibility.schema1.enabled: schema1 manifests are not supported; pushes of them are refused with MANIFEST_INVALID")
	}
	c.applyDefaults()
	if err := c.Validate(); err != nil {
		var vps yamlconf.Problems
		if !errors.As(err, &vps) {
			return nil, err
		}
		ps = append(ps, vps...)
	}
	if len(ps) > 0 {
		return nil, ps
	}
	c.Warnings = append(c.Warnings, c.storageWarnings()...)
	return c, nil
}

// decode parses one YAML document strictly.
func decode(name string, data []byte) (*Config, error) {
	c := &Config{}
	prefill(reflect.ValueOf(&c.Storage))
	doc, err := yamlconf.Decode(name, data, c)
	if doc == nil {
		return nil, suggestMisplaced(err)
	}
	c.doc = doc
	c.settleDrivers(&c.Storage, storageKeys(data, true))
	c.keepEmptyAuth(data)
	// Header names are case-insensitive; canonical keys let an environment
	// override replace a header the file spelled differently.
	c.HTTP.Headers = canonicalHeaders(c.HTTP.Headers)
	if c.HTTP.Headers == nil {
		c.HTTP.Headers = http.Header{"X-Content-Type-Options": {"nosniff"}}
	}
	if err != nil {
		// Decoded what it could: Load validates the rest too and reports
		// every problem at once.
		return c, suggestMisplaced(err)
	}
	return c, nil
}

// keepEmptyAuth notices `auth: {htpasswd: }` written with no settings, which
// YAML decodes as a nil pointer, i.e. no authentication at all. Silently
// running an open registry would be the worst reading of it: keep the
// section so Validate reports what it lacks.
func (c *Config) keepEmptyAuth(data []byte) {
	var probe struct {
		Auth map[string]any `yaml:"auth"`
	}
	if yaml.Unmarshal(data, &probe) != nil {
		return
	}
	if _, ok := probe.Auth["htpasswd"]; ok && c.Auth.Htpasswd == nil {
		c.Auth.Htpasswd = &HtpasswdAuth{}
	}
	if _, ok := probe.Auth["token"]; ok && c.Auth.Token == nil {
		c.Auth.Token = &TokenAuth{}
	}
}

// applyDefaults fills in every setting left empty. It is the one place
// defaults live (apart from imageConfig, which stands for a whole file).
func (c *Config) applyDefaults() {
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Formatter == "" {
		c.Log.Formatter = "text"
	}
	if c.HTTP.Addr == "" {
		c.HTTP.Addr = DefaultAddr
	}
	if c.Storage.S3 == nil && c.Storage.Filesystem.RootDirectory == "" {
		c.Storage.Filesystem.RootDirectory = DefaultRootDirectory
	}
	defaultDuration(&c.Storage.Maintenance.UploadPurging.Age, DefaultPurgeAge)
	defaultDuration(&c.Storage.Maintenance.UploadPurging.Interval, DefaultPurgeInterval)
	defaultDuration(&c.Storage.Maintenance.GC.Interval, DefaultGCInterval)
	defaultDuration(&c.Storage.Maintenance.GC.GracePeriod, DefaultGCGracePeriod)
	defaultDuration(&c.Health.StorageDriver.Interval, DefaultHealthEvery)
	if c.Health.StorageDriver.Threshold == 0 {
		c.Health.StorageDriver.Threshold = 1
	}
	if c.Auth.Token != nil && c.Auth.Token.AutoRedirectPath == "" {
		c.Auth.Token.AutoRedirectPath = "/auth/token"
	}
}

func defaultDuration(d *Duration, v time.Duration) {
	if d.Duration == 0 && d.invalid == "" {
		d.Duration = v
	}
}

func canonicalHeaders(h http.Header) http.Header {
	if h == nil {
		return nil
	}
	out := make(http.Header, len(h))
	for k, v := range h {
		ck := http.CanonicalHeaderKey(k)
		out[ck] = append(out[ck], v...)
	}
	return out
}

// problem builds a Problem for the field at path, naming the environment
// variable that set it if one did, else the file and line.
func (c *Config) problem(path, format string, args ...any) yamlconf.Problem {
	msg := fmt.Sprintf(format, args...)
	if env, ok := c.envSource(path); ok {
		return yamlconf.Problem{File: "environment", Field: env + " (" + path + ")", Msg: msg}
	}
	if c.doc != nil {
		return c.doc.Problemf(path, format, args...)
	}
	return yamlconf.Problem{File: "configuration", Field: path, Msg: msg}
}
