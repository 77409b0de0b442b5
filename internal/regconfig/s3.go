package regconfig

import (
	"context"
	"reflect"
	"strings"

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
			if _, _, ok := fieldByKey(reflect.TypeFor[S3](), key); ok {
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
