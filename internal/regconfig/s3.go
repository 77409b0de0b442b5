package regconfig

import (
	"context"
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/wharf-registry/wharf/internal/yamlconf"
	"github.com/wharf-registry/wharf/pkg/storage/s3"
)

// S3 is storage.s3: the S3 driver's settings under registry:2's keys (see
// s3.Config), decoded over s3.DefaultConfig so that an absent `secure`
// stays true, plus the registry:2 keys that change nothing here. Those are
// accepted so registry:2 configs load, and named in a warning when set to
// anything but their default.
type S3 struct {
	s3.Config `yaml:",inline"`

	// ObjectACL: objects are always private (registry:2's default).
	ObjectACL string `yaml:"objectacl"`
	// UserAgent, UseDualStack, Accelerate, UseFIPSEndpoint and LogLevel
	// tune registry:2's AWS SDK v1 client; ours uses the SDK's defaults.
	UserAgent       string `yaml:"useragent"`
	UseDualStack    bool   `yaml:"usedualstack"`
	Accelerate      bool   `yaml:"accelerate"`
	UseFIPSEndpoint bool   `yaml:"usefipsendpoint"`
	LogLevel        string `yaml:"loglevel"`
	// SessionToken is ignored, as registry:2 ignores it: temporary
	// credentials come from AWS_SESSION_TOKEN with accesskey left empty.
	SessionToken string `yaml:"sessiontoken"`
}

// Redirect is storage.redirect. Unlike registry:2, where redirects are on
// unless disabled, they are off unless `disable: false` is written: a
// presigned URL names the S3 endpoint as the registry reaches it
// (http://minio:9000 inside compose), which clients outside that network
// cannot resolve, and a pull that fails is worse than one that streams
// through the registry.
type Redirect struct {
	Disable *bool `yaml:"disable"`
}

// On reports whether blob GETs may redirect to the storage.
func (r Redirect) On() bool { return r.Disable != nil && !*r.Disable }

// Driver names the storage driver in use: "filesystem" or "s3".
func (s Storage) Driver() string {
	if s.S3 != nil {
		return "s3"
	}
	return "filesystem"
}

// Describe says where content is kept, for logs and `registry validate`.
func (s Storage) Describe() string {
	if c := s.S3; c != nil {
		where := "s3://" + c.Bucket
		if root := strings.Trim(c.RootDirectory, "/"); root != "" {
			where += "/" + root
		}
		if c.RegionEndpoint != "" {
			where += " at " + c.RegionEndpoint
		}
		return where
	}
	return s.Filesystem.RootDirectory
}

// defaultS3 is what a storage.s3 section starts from before its keys are
// decoded over it.
func defaultS3() *S3 { return &S3{Config: s3.DefaultConfig()} }

// prefill gives ptr, a pointer about to be decoded into, the defaults of
// the section it holds, for the sections whose zero value is not their
// default.
func prefill(ptr reflect.Value) {
	switch p := ptr.Interface().(type) {
	case **S3:
		*p = defaultS3()
	case *Storage:
		p.S3 = defaultS3()
	}
}

// storageKeys reports which driver sections a storage mapping writes; a
// nil map when data has no storage mapping at the path (nested: under a
// top-level `storage:` key, else at the top).
func storageKeys(data []byte, nested bool) map[string]bool {
	var m map[string]yaml.Node
	if nested {
		var probe struct {
			Storage map[string]yaml.Node `yaml:"storage"`
		}
		if yaml.Unmarshal(data, &probe) != nil {
			return nil
		}
		m = probe.Storage
	} else if yaml.Unmarshal(data, &m) != nil {
		return nil
	}
	keys := map[string]bool{}
	for k := range m {
		keys[k] = true
	}
	return keys
}

// settleDrivers fixes up a storage section decoded over prefilled defaults:
// s3 stays only if written (even as an empty `s3:`, so that Validate
// reports what it lacks), and filesystem counts as set only if written.
func (c *Config) settleDrivers(st *Storage, keys map[string]bool) {
	switch {
	case !keys["s3"]:
		st.S3 = nil
	case st.S3 == nil:
		st.S3 = defaultS3()
	}
	c.filesystemSet = keys["filesystem"]
}

// setStorageDriver handles REGISTRY_STORAGE as registry:2 does: a bare
// driver name switches to that driver (REGISTRY_STORAGE=s3 on top of the
// image's filesystem config is the documented way to move to S3), and a
// YAML mapping replaces the whole section. Unlike registry:2, switching
// keeps storage.delete and storage.maintenance, which apply to every
// driver.
func (c *Config) setStorageDriver(name, value string) error {
	var driver string
	if _, err := yamlconf.Decode(name, []byte(value), &driver); err != nil {
		nv, err := parseValue(name, value, reflect.TypeFor[Storage]())
		if err != nil {
			return err
		}
		st := nv.Interface().(Storage)
		c.settleDrivers(&st, storageKeys([]byte(value), false))
		c.Storage = st
		return nil
	}
	switch strings.ToLower(strings.TrimSpace(driver)) {
	case "filesystem":
		c.Storage.S3 = nil
		c.filesystemSet = true
	case "s3", "s3aws":
		c.Storage.Filesystem = Filesystem{}
		c.filesystemSet = false
		if c.Storage.S3 == nil {
			c.Storage.S3 = defaultS3()
		}
	default:
		return fmt.Errorf("unsupported storage driver %q (want filesystem or s3)", driver)
	}
	return nil
}

// s3 checks the storage.s3 section, with the driver's own validation
// mapped onto the keys it names.
func (v *validator) s3() {
	c := v.c.Storage.S3
	if c == nil {
		return
	}
	if v.c.filesystemSet {
		v.add("storage.s3", "configure one storage driver, not both filesystem and s3 (remove storage.filesystem, or set REGISTRY_STORAGE=s3 to replace it)")
	}
	if c.Bucket == "" {
		v.add("storage.s3.bucket", "required")
	}
	// s3.New checks everything else without contacting the server. Its
	// messages start with the key they are about.
	if _, err := s3.New(context.Background(), c.Config); err != nil {
		for _, e := range unjoin(err) {
			msg := strings.TrimPrefix(e.Error(), s3.ErrConfig.Error()+": ")
			key, _, _ := strings.Cut(msg, " ")
			key = strings.TrimSuffix(key, ":")
			if key == "bucket" {
				continue // reported above
			}
			path := "storage.s3"
			if _, _, ok := fieldByKey(reflect.ValueOf(c).Elem(), key); ok {
				path += "." + key
			}
			v.add(path, "%s", msg)
		}
	}
}

// unjoin splits an errors.Join result into its parts.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// storageWarnings names settings accepted for registry:2's sake that do
// nothing here.
func (c *Config) storageWarnings() []string {
	var ws []string
	if r := c.Storage.Redirect; r.Disable != nil && !*r.Disable && c.Storage.S3 == nil {
		ws = append(ws, "storage.redirect: the filesystem driver serves blobs itself; redirects apply to s3 only")
	}
	s := c.Storage.S3
	if s == nil {
		return ws
	}
	noEffect := func(key string, set bool) {
		if set {
			ws = append(ws, "storage.s3."+key+": accepted for registry:2 compatibility, has no effect")
		}
	}
	acl := strings.ToLower(s.ObjectACL)
	noEffect("objectacl", acl != "" && acl != "private")
	noEffect("useragent", s.UserAgent != "")
	noEffect("usedualstack", s.UseDualStack)
	noEffect("accelerate", s.Accelerate)
	noEffect("usefipsendpoint", s.UseFIPSEndpoint)
	level := strings.ToLower(s.LogLevel)
	noEffect("loglevel", level != "" && level != "off")
	if s.SessionToken != "" {
		ws = append(ws, "storage.s3.sessiontoken: ignored, as registry:2 ignores it; for temporary credentials leave accesskey empty and set AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN")
	}
	return ws
}
