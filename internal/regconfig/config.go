// Package regconfig reads the registry's configuration: registry:2's
// config.yml, strictly (an unknown key is an error naming its file, line and
// field), with registry:2's REGISTRY_* environment overrides on top.
//
// Only the parts of registry:2's configuration this registry implements are
// accepted; everything else is refused rather than silently ignored, because
// a key that does nothing is worse than an error. See
// https://distribution.github.io/distribution/about/configuration/.
package regconfig

import (
	"fmt"
	"net/http"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/wharf-registry/wharf/internal/yamlconf"
)

// Config is the registry's whole configuration.
type Config struct {
	Version       string        `yaml:"version"`
	Log           Log           `yaml:"log"`
	Storage       Storage       `yaml:"storage"`
	HTTP          HTTP          `yaml:"http"`
	Auth          Auth          `yaml:"auth"`
	Health        Health        `yaml:"health"`
	Compatibility Compatibility `yaml:"compatibility"`
	Proxy         *Proxy        `yaml:"proxy"`   // registry:2's pull-through cache (proxy.go)
	Proxies       []ProxyEntry  `yaml:"proxies"` // several upstreams, each on a prefix (proxy.go)
	// UI is our addition: the web UI under /ui/ (internal/ui), off unless
	// ui.enabled is true (REGISTRY_UI_ENABLED=true).
	UI Toggle `yaml:"ui"`

	// Warnings are things accepted but worth a line in the log: settings
	// that have no effect here and REGISTRY_* variables ignored (Kubernetes
	// service links).
	Warnings []string `yaml:"-"`

	doc     *yamlconf.Doc     // the file, for the line numbers of later problems
	fromEnv map[string]string // config path -> the variable that set it
	// filesystemSet records that storage.filesystem was written (in the
	// file, the built-in defaults or the environment), as opposed to
	// filled in by default: with s3 it makes two drivers.
	filesystemSet bool
}

// Log configures logging.
type Log struct {
	Level     string         `yaml:"level"`     // error, warn, info (default), debug
	Formatter string         `yaml:"formatter"` // text (default), json, logstash (= json)
	Fields    map[string]any `yaml:"fields"`    // added to every log line
	AccessLog AccessLog      `yaml:"accesslog"`
}

// AccessLog configures the one-line-per-request log.
type AccessLog struct {
	Disabled bool `yaml:"disabled"`
}

// Storage configures where and how content is kept: exactly one driver,
// filesystem (the default) or s3 (see s3.go), plus settings for both.
type Storage struct {
	Filesystem  Filesystem  `yaml:"filesystem"`
	S3          *S3         `yaml:"s3"`
	Delete      Toggle      `yaml:"delete"`
	Redirect    Redirect    `yaml:"redirect"`
	Maintenance Maintenance `yaml:"maintenance"`
	Cache       Cache       `yaml:"cache"`
}

// Filesystem is the filesystem storage driver's configuration.
type Filesystem struct {
	RootDirectory string `yaml:"rootdirectory"`
	MaxThreads    int    `yaml:"maxthreads"` // registry:2's; accepted, no effect
}

// Toggle is a section holding only `enabled`.
type Toggle struct {
	Enabled bool `yaml:"enabled"`
}

// Maintenance configures background jobs and read-only mode.
type Maintenance struct {
	ReadOnly      Toggle        `yaml:"readonly"`
	UploadPurging UploadPurging `yaml:"uploadpurging"`
	GC            GC            `yaml:"gc"` // our addition; registry:2 has no scheduled GC
}

// UploadPurging removes upload sessions abandoned for longer than Age.
type UploadPurging struct {
	Enabled  *bool    `yaml:"enabled"` // nil means on, as in registry:2
	Age      Duration `yaml:"age"`
	Interval Duration `yaml:"interval"`
	DryRun   bool     `yaml:"dryrun"`
}

// On reports whether purging runs: it does unless explicitly disabled.
func (u UploadPurging) On() bool { return u.Enabled == nil || *u.Enabled }

// GC configures garbage collection on a schedule inside `registry serve`.
type GC struct {
	Enabled        bool     `yaml:"enabled"`
	Interval       Duration `yaml:"interval"`
	GracePeriod    Duration `yaml:"graceperiod"`
	DeleteUntagged bool     `yaml:"deleteuntagged"`
}

// Cache is accepted for compatibility with registry:2 configs and has no
// effect: blob descriptors are read from the filesystem every time.
type Cache struct {
	BlobDescriptor string `yaml:"blobdescriptor"`
}

// HTTP configures the listener and what every response carries.
type HTTP struct {
	Addr         string      `yaml:"addr"`
	Host         string      `yaml:"host"`   // absolute base URL for Location headers
	Prefix       string      `yaml:"prefix"` // path the API is served under, e.g. /registry/
	Secret       string      `yaml:"secret"` // accepted; upload state lives in storage, nothing is signed
	RelativeURLs bool        `yaml:"relativeurls"`
	Headers      http.Header `yaml:"headers"`
	HTTP2        HTTP2       `yaml:"http2"`
	TLS          TLS         `yaml:"tls"`
	Net          string      `yaml:"net"`          // tcp, the only one served
	DrainTimeout Duration    `yaml:"draintimeout"` // how long shutdown waits for requests in flight
	Debug        Debug       `yaml:"debug"`
}

// Debug is http.debug: a second listener, for operators only, serving
// /metrics, /debug/health and /debug/pprof/ (see README "Operations").
type Debug struct {
	Addr       string     `yaml:"addr"`
	Prometheus Prometheus `yaml:"prometheus"`
}

// Prometheus is http.debug.prometheus. The public listener serves /metrics
// whatever it says; on the debug listener, /metrics is served unless
// `enabled` is false, at Path when set.
type Prometheus struct {
	Enabled *bool  `yaml:"enabled"`
	Path    string `yaml:"path"`
}

// HTTP2 can switch HTTP/2 off on a TLS listener.
type HTTP2 struct {
	Disabled bool `yaml:"disabled"`
}

// TLS enables HTTPS when Certificate and Key are set.
type TLS struct {
	Certificate string   `yaml:"certificate"`
	Key         string   `yaml:"key"`
	ClientCAs   []string `yaml:"clientcas"`  // require client certificates signed by these
	MinimumTLS  string   `yaml:"minimumtls"` // tls1.2 (default) or tls1.3
}

// Enabled reports whether the listener serves HTTPS.
func (t TLS) Enabled() bool { return t.Certificate != "" || t.Key != "" }

// Auth selects at most one access controller; none at all means anyone may
// do anything.
type Auth struct {
	Htpasswd *HtpasswdAuth `yaml:"htpasswd"`
	Token    *TokenAuth    `yaml:"token"`
}

// Mode names the configured access controller: "none", "htpasswd" or "token".
func (a Auth) Mode() string {
	switch {
	case a.Token != nil:
		return "token"
	case a.Htpasswd != nil:
		return "htpasswd"
	}
	return "none"
}

// HtpasswdAuth is Basic authentication against an htpasswd file of bcrypt
// hashes. Every authenticated user may do everything.
type HtpasswdAuth struct {
	Realm string `yaml:"realm"`
	Path  string `yaml:"path"`
}

// TokenAuth trusts bearer tokens from a Docker token server.
type TokenAuth struct {
	Realm            string `yaml:"realm"`
	Service          string `yaml:"service"`
	Issuer           string `yaml:"issuer"`
	RootCertBundle   string `yaml:"rootcertbundle"`
	JWKS             string `yaml:"jwks"` // a file or an https URL (http only with JWKSInsecureHTTP)
	AutoRedirect     bool   `yaml:"autoredirect"`
	AutoRedirectPath string `yaml:"autoredirectpath"`

	// JWKSInsecureHTTP accepts a jwks URL over plain http://, whose keys
	// (and so every token) anyone on the network path can replace.
	JWKSInsecureHTTP bool `yaml:"jwksinsecurehttp"`
}

// Health configures the storage health check.
type Health struct {
	StorageDriver StorageDriverHealth `yaml:"storagedriver"`
}

// StorageDriverHealth checks storage every Interval; after Threshold failures
// in a row the registry answers 503 until a check succeeds again.
type StorageDriverHealth struct {
	Enabled   bool     `yaml:"enabled"`
	Interval  Duration `yaml:"interval"`
	Threshold int      `yaml:"threshold"`
}

// Compatibility is accepted so registry:2 configs load; schema1 is never
// served (no current client pushes it).
type Compatibility struct {
	Schema1 Schema1 `yaml:"schema1"`
}

// Schema1 is compatibility.schema1; both keys are accepted with a warning.
type Schema1 struct {
	Enabled        bool   `yaml:"enabled"`
	SigningKeyFile string `yaml:"signingkeyfile"`
}

// Duration is a time.Duration written as "10s" or "24h". A value that does
// not parse is kept and reported by Validate, with its field and line.
type Duration struct {
	time.Duration
	invalid string
}

// UnmarshalYAML parses a duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	*d = Duration{}
	if n.Kind != yaml.ScalarNode {
		d.invalid = "a " + kindName(n.Kind)
		return nil
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		d.invalid = fmt.Sprintf("%q", n.Value)
		return nil
	}
	d.Duration = v
	return nil
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "non-scalar"
}

// D returns a Duration of v, for building configs in code.
func D(v time.Duration) Duration { return Duration{Duration: v} }
