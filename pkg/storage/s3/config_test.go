package s3

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/wharf-registry/wharf/pkg/storage"
)

// A registry:2 storage.s3 section decodes strictly over DefaultConfig, and
// keys it leaves out keep registry:2's defaults.
func TestRegistry2ConfigSectionDecodes(t *testing.T) {
	const section = `
accesskey: AKID
secretkey: secret
region: eu-west-1
regionendpoint: http://minio:9000
bucket: registry
rootdirectory: /registry/root
forcepathstyle: true
chunksize: 5242880
multipartcopychunksize: 33554432
multipartcopymaxconcurrency: 10
multipartcopythresholdsize: 1048576
encrypt: false
v4auth: true
storageclass: STANDARD
`
	cfg := DefaultConfig()
	dec := yaml.NewDecoder(strings.NewReader(section))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.AccessKey, want.SecretKey, want.Region, want.RegionEndpoint = "AKID", "secret", "eu-west-1", "http://minio:9000"
	want.Bucket, want.RootDirectory, want.ForcePathStyle, want.StorageClass = "registry", "/registry/root", true, "STANDARD"
	want.ChunkSize, want.MultipartCopyChunkSize, want.MultipartCopyMaxConcurrency, want.MultipartCopyThresholdSize = 5<<20, 32<<20, 10, 1<<20
	if cfg != want {
		t.Fatalf("decoded %+v\nwant    %+v", cfg, want)
	}
	if !cfg.Secure {
		t.Fatal("an absent secure must stay true, as in registry:2")
	}
}

func TestConfigRejectsWhatS3CannotDo(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"no bucket", func(c *Config) { c.Bucket = "" }, "bucket"},
		{"access key without secret", func(c *Config) { c.SecretKey = "" }, "secretkey"},
		{"signature v2", func(c *Config) { c.V4Auth = false }, "v4auth"},
		{"chunk under 5 MiB", func(c *Config) { c.ChunkSize = 1 << 20 }, "chunksize"},
		{"chunk over 5 GiB", func(c *Config) { c.ChunkSize = 6 << 30 }, "chunksize"},
		{"copy chunk under 5 MiB", func(c *Config) { c.MultipartCopyChunkSize = 1 }, "multipartcopychunksize"},
		{"no copy concurrency", func(c *Config) { c.MultipartCopyMaxConcurrency = -1 }, "multipartcopymaxconcurrency"},
		{"negative threshold", func(c *Config) { c.MultipartCopyThresholdSize = -1 }, "multipartcopythresholdsize"},
		{"empty root component", func(c *Config) { c.RootDirectory = "/a//b" }, "rootdirectory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.AccessKey, cfg.SecretKey, cfg.Bucket, cfg.RegionEndpoint = "a", "b", "bucket", "http://127.0.0.1:1"
			tc.mod(&cfg)
			_, err := New(context.Background(), cfg)
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want ErrConfig naming %s", err, tc.want)
			}
		})
	}
}

func TestEndpointFollowsSecure(t *testing.T) {
	for _, tc := range []struct {
		endpoint string
		secure   bool
		want     string
	}{
		{"", true, ""}, // the SDK's own AWS endpoint
		{"", false, "http://s3.eu-west-1.amazonaws.com"},
		{"minio:9000", true, "https://minio:9000"},
		{"minio:9000", false, "http://minio:9000"},
		{"http://minio:9000", true, "http://minio:9000"},
		{"https://s3.example.com", false, "https://s3.example.com"},
	} {
		c := Config{RegionEndpoint: tc.endpoint, Secure: tc.secure}
		if got := c.endpoint("eu-west-1"); got != tc.want {
			t.Errorf("endpoint(%q, secure=%v) = %q, want %q", tc.endpoint, tc.secure, got, tc.want)
		}
	}
}

// isolateAWSEnv keeps the developer's own AWS settings out of a test.
func isolateAWSEnv(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	for _, v := range []string{"AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"} {
		t.Setenv(v, "")
	}
}

func TestCredentialsAndRegionFromTheEnvironment(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		isolateAWSEnv(t)
		cfg := s.config(t)
		cfg.AccessKey, cfg.SecretKey, cfg.Region = "", "", ""
		t.Setenv("AWS_ACCESS_KEY_ID", testAccessKey)
		t.Setenv("AWS_SECRET_ACCESS_KEY", testSecretKey)
		d := s.newDriver(t, cfg)
		put(t, d, "/env/ok", "signed with the environment's keys")

		t.Setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
		bad := s.newDriver(t, cfg)
		err := bad.PutContent(context.Background(), "/env/bad", nil)
		if err == nil || errors.Is(err, storage.ErrPathNotFound) {
			t.Fatalf("a wrong secret from the environment: %v", err)
		}
	})
}

func TestRegionIsRequiredForAWS(t *testing.T) {
	isolateAWSEnv(t)
	cfg := DefaultConfig()
	cfg.Bucket, cfg.AccessKey, cfg.SecretKey = "b", "a", "s"
	if _, err := New(context.Background(), cfg); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "region") {
		t.Fatalf("New without region or endpoint = %v", err)
	}
	t.Setenv("AWS_REGION", "eu-central-1")
	d, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("region from AWS_REGION: %v", err)
	}
	if d.c.Options().Region != "eu-central-1" {
		t.Fatalf("region %q", d.c.Options().Region)
	}
}
