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
	// DefaultDrainTimeout is how long shutdown waits for requests in
	// flight (a big layer still uploading) before closing their
	// connections. registry:2 waits not at all unless told.
	DefaultDrainTimeout = 5 * time.Minute
)

// Load reads the config file at path (path == "" means registry:2's image
// default), applies REGISTRY_* overrides from environ (KEY=value entries, as
// os.Environ returns them) and validates the result. The error, when not
// nil, is a yamlconf.Problems listing every problem found: of the file, of
// the environment and of validation, all in one report.
//
// The file is parsed once into a YAML tree, each variable is an edit of
// that tree (env.go), and the tree is decoded once, strictly.
func Load(path string, environ []string) (*Config, error) {
	name, data := "(built-in defaults)", []byte(imageConfig)
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, yamlconf.Problems{{File: path, Msg: err.Error()}}
		}
		name, data = path, b
	}
	root, err := yamlconf.Parse(name, data)
	if err != nil {
		return nil, err
	}
	if root == nil { // an empty file: every default
		root = emptyMapping()
	}
	c := &Config{fromEnv: map[string]string{}}
	ed := &editor{root: root, fromEnv: c.fromEnv}
	if root.Kind == yaml.MappingNode { // else the decode reports what it is
		defaultHeaders(root)
		for _, v := range registryVars(environ) {
			ed.apply(v)
		}
		presentSections(root, reflect.TypeFor[Config]())
	}

	c.Storage.S3 = defaultS3() // decoded over, so an absent `secure` stays true
	doc, err := yamlconf.DecodeNode(name, root, c)
	c.doc = doc
	var ps yamlconf.Problems
	if err != nil && !errors.As(explainUnknown(err, ""), &ps) {
		return nil, err
	}
	st := valueOf(root, "storage")
	if valueOf(st, "s3") == nil {
		c.Storage.S3 = nil
	}
	c.filesystemSet = valueOf(st, "filesystem") != nil
	ps = append(ps, ed.ps...)
	c.Warnings = append(c.Warnings, ed.warnings...)

	c.HTTP.Headers = canonicalHeaders(c.HTTP.Headers)
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
	c.Warnings = append(c.Warnings, c.informational()...)
	return c, nil
}

// defaultHeaders gives a file without http.headers the image's
// X-Content-Type-Options: nosniff, before the environment's edits: a
// variable adds a header to it, or replaces it. `headers: {}` asks for none.
func defaultHeaders(root *yaml.Node) {
	h := valueOf(root, "http")
	switch {
	case h == nil:
		h = emptyMapping()
		root.Content = append(root.Content, strNode("http"), h)
	case isNull(h):
		*h = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: h.Line, Column: h.Column}
	case h.Kind != yaml.MappingNode:
		return
	}
	if hs := valueOf(h, "headers"); hs == nil || isNull(hs) {
		nosniff := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: []*yaml.Node{strNode("nosniff")}}
		setKey(h, "headers", &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map",
			Content: []*yaml.Node{strNode("X-Content-Type-Options"), nosniff}}, func(k string) bool { return k == "headers" })
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
	defaultDuration(&c.HTTP.DrainTimeout, DefaultDrainTimeout)
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
