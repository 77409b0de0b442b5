package regconfig

import (
	"strings"
	"testing"

	"github.com/wharf-registry/wharf/pkg/storage/s3"
)

// registry:2's documented S3 section, as a MinIO deployment writes it.
const s3ConfigYAML = `version: 0.1
storage:
  s3:
    accesskey: AKIAEXAMPLE
    secretkey: secret/with+chars
    region: eu-west-1
    regionendpoint: http://minio:9000
    bucket: registry
    rootdirectory: /wharf
    forcepathstyle: true
    chunksize: 10485760
    multipartcopychunksize: 33554432
    multipartcopymaxconcurrency: 10
    multipartcopythresholdsize: 67108864
    storageclass: STANDARD
  delete:
    enabled: true
http:
  addr: :5000
`

func TestS3SectionReadsRegistry2Keys(t *testing.T) {
	c, err := Load(writeFile(t, t.TempDir(), "config.yml", s3ConfigYAML), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Storage.Driver() != "s3" {
		t.Fatalf("driver = %q, want s3", c.Storage.Driver())
	}
	want := s3.DefaultConfig()
	want.AccessKey, want.SecretKey = "AKIAEXAMPLE", "secret/with+chars"
	want.Region, want.RegionEndpoint, want.Bucket = "eu-west-1", "http://minio:9000", "registry"
	want.RootDirectory, want.ForcePathStyle = "/wharf", true
	want.ChunkSize, want.MultipartCopyChunkSize = 10<<20, 32<<20
	want.MultipartCopyMaxConcurrency, want.MultipartCopyThresholdSize = 10, 64<<20
	want.StorageClass = "STANDARD"
	// secure and v4auth are absent: registry:2's defaults (true) hold.
	if got := c.Storage.S3.Config; got != want {
		t.Errorf("s3 config:\n got %+v\nwant %+v", got, want)
	}
	if !c.Storage.Delete.Enabled {
		t.Error("storage.delete.enabled lost")
	}
	if c.Storage.Filesystem.RootDirectory != "" {
		t.Errorf("filesystem root %q filled in beside s3", c.Storage.Filesystem.RootDirectory)
	}
	if got := c.Storage.Describe(); got != "s3://registry/wharf at http://minio:9000" {
		t.Errorf("Describe() = %q", got)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("unexpected warnings: %q", c.Warnings)
	}
}

// The registry:2 image's way to run on S3: its built-in filesystem config,
// REGISTRY_STORAGE=s3 and the section's variables.
func TestS3FromEnvironmentOverImageDefaults(t *testing.T) {
	env := []string{
		"REGISTRY_STORAGE=s3",
		"REGISTRY_STORAGE_S3_ACCESSKEY=AKIAEXAMPLE",
		"REGISTRY_STORAGE_S3_SECRETKEY=c2VjcmV0: not yaml",
		"REGISTRY_STORAGE_S3_REGION=us-east-1",
		"REGISTRY_STORAGE_S3_REGIONENDPOINT=http://127.0.0.1:9000",
		"REGISTRY_STORAGE_S3_BUCKET=registry",
		"REGISTRY_STORAGE_S3_ROOTDIRECTORY=/r",
		"REGISTRY_STORAGE_S3_SECURE=false",
		"REGISTRY_STORAGE_S3_SKIPVERIFY=true",
		"REGISTRY_STORAGE_S3_FORCEPATHSTYLE=true",
		"REGISTRY_STORAGE_S3_V4AUTH=true",
		"REGISTRY_STORAGE_S3_ENCRYPT=true",
		"REGISTRY_STORAGE_S3_KEYID=kms-key",
		"REGISTRY_STORAGE_S3_STORAGECLASS=REDUCED_REDUNDANCY",
		"REGISTRY_STORAGE_S3_CHUNKSIZE=20971520",
		"REGISTRY_STORAGE_S3_MULTIPARTCOPYCHUNKSIZE=10485760",
		"REGISTRY_STORAGE_S3_MULTIPARTCOPYMAXCONCURRENCY=4",
		"REGISTRY_STORAGE_S3_MULTIPARTCOPYTHRESHOLDSIZE=0",
		"REGISTRY_STORAGE_DELETE_ENABLED=true",
	}
	c, err := Load("", env)
	if err != nil {
		t.Fatal(err)
	}
	want := s3.Config{
		AccessKey: "AKIAEXAMPLE", SecretKey: "c2VjcmV0: not yaml",
		Region: "us-east-1", RegionEndpoint: "http://127.0.0.1:9000", Bucket: "registry", RootDirectory: "/r",
		Secure: false, SkipVerify: true, ForcePathStyle: true, V4Auth: true,
		Encrypt: true, KeyID: "kms-key", StorageClass: "REDUCED_REDUNDANCY",
		ChunkSize: 20 << 20, MultipartCopyChunkSize: 10 << 20, MultipartCopyMaxConcurrency: 4,
	}
	if c.Storage.S3 == nil {
		t.Fatal("REGISTRY_STORAGE=s3 did not select s3")
	}
	if got := c.Storage.S3.Config; got != want {
		t.Errorf("s3 config:\n got %+v\nwant %+v", got, want)
	}
	if !c.Storage.Delete.Enabled {
		t.Error("REGISTRY_STORAGE_DELETE_ENABLED lost")
	}
}

func TestS3SectionDefaultsHoldWhateverSetsIt(t *testing.T) {
	tests := []struct {
		name string
		file string
		env  []string
	}{
		{"file", "storage:\n  s3:\n    bucket: b\n    regionendpoint: http://s3:9000\n", nil},
		{"one variable per key", "", []string{"REGISTRY_STORAGE=s3", "REGISTRY_STORAGE_S3_BUCKET=b", "REGISTRY_STORAGE_S3_REGIONENDPOINT=http://s3:9000"}},
		{"one variable for the section", "", []string{"REGISTRY_STORAGE=s3", "REGISTRY_STORAGE_S3={bucket: b, regionendpoint: 'http://s3:9000'}"}},
		{"a variable for the whole storage", "", []string{"REGISTRY_STORAGE={s3: {bucket: b, regionendpoint: 'http://s3:9000'}}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeFile(t, t.TempDir(), "config.yml", tt.file)
			}
			c, err := Load(path, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			want := s3.DefaultConfig()
			want.Bucket, want.RegionEndpoint = "b", "http://s3:9000"
			if c.Storage.S3 == nil || c.Storage.S3.Config != want {
				t.Errorf("s3 = %+v, want %+v", c.Storage.S3, want)
			}
		})
	}
}

func TestStorageDriverCanBeSwitchedBack(t *testing.T) {
	path := writeFile(t, t.TempDir(), "config.yml", s3ConfigYAML)
	c, err := Load(path, []string{"REGISTRY_STORAGE=filesystem"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Storage.Driver() != "filesystem" || c.Storage.Filesystem.RootDirectory != DefaultRootDirectory {
		t.Errorf("driver %s at %q, want filesystem at %s", c.Storage.Driver(), c.Storage.Filesystem.RootDirectory, DefaultRootDirectory)
	}
}

func TestS3ProblemsNameTheirKeys(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		env   []string
		field string
		line  int
		msg   string
	}{
		{"two drivers in the file", "storage:\n  filesystem:\n    rootdirectory: /x\n  s3:\n    bucket: b\n    region: us-east-1\n",
			nil, "storage.s3", 4, "not both filesystem and s3"},
		{"s3 variables without REGISTRY_STORAGE=s3", "", []string{"REGISTRY_STORAGE_S3_BUCKET=b", "REGISTRY_STORAGE_S3_REGION=us-east-1"},
			"REGISTRY_STORAGE_S3_BUCKET (storage.s3)", 0, "REGISTRY_STORAGE=s3"},
		{"empty section", "storage:\n  s3:\n", nil, "storage.s3.bucket", 2, "required"},
		{"no bucket", "storage:\n  s3:\n    region: us-east-1\n", nil, "storage.s3.bucket", 2, "required"},
		{"chunk below S3's minimum", "storage:\n  s3:\n    bucket: b\n    region: us-east-1\n    chunksize: 1024\n",
			nil, "storage.s3.chunksize", 5, "outside"},
		{"signature version 2", "storage:\n  s3:\n    bucket: b\n    region: us-east-1\n    v4auth: false\n",
			nil, "storage.s3.v4auth", 5, "Version 4"},
		{"access key without secret", "storage:\n  s3:\n    bucket: b\n    region: us-east-1\n    accesskey: a\n",
			nil, "storage.s3.secretkey", 2, "required with accesskey"},
		{"bad variable value", "", []string{"REGISTRY_STORAGE=s3", "REGISTRY_STORAGE_S3_BUCKET=b", "REGISTRY_STORAGE_S3_REGION=x", "REGISTRY_STORAGE_S3_CHUNKSIZE=big"},
			"REGISTRY_STORAGE_S3_CHUNKSIZE", 0, "cannot use"},
		{"misspelt key", "storage:\n  s3:\n    bucket: b\n    regionendpont: http://x\n", nil, "storage.s3.regionendpont", 4, `did you mean "regionendpoint"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeFile(t, t.TempDir(), "config.yml", tt.file)
			}
			_, err := Load(path, tt.env)
			found := false
			for _, p := range problems(t, err) {
				if p.Field == tt.field && p.Line == tt.line && strings.Contains(p.Msg, tt.msg) {
					found = true
				}
			}
			if !found {
				t.Errorf("want a problem at %s line %d containing %q, got:\n%v", tt.field, tt.line, tt.msg, err)
			}
		})
	}
}

func TestRegistry2OnlyS3KeysLoadWithAWarning(t *testing.T) {
	base := "storage:\n  s3:\n    bucket: b\n    region: us-east-1\n"
	tests := []struct {
		extra string
		warn  string // "" for none
	}{
		{"    objectacl: private\n", ""},
		{"    loglevel: off\n", ""},
		{"    objectacl: public-read\n", "storage.s3.objectacl"},
		{"    useragent: me\n", "storage.s3.useragent"},
		{"    usedualstack: true\n", "storage.s3.usedualstack"},
		{"    accelerate: true\n", "storage.s3.accelerate"},
		{"    usefipsendpoint: true\n", "storage.s3.usefipsendpoint"},
		{"    loglevel: debug\n", "storage.s3.loglevel"},
		{"    sessiontoken: tok\n", "AWS_SESSION_TOKEN"},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSpace(tt.extra), func(t *testing.T) {
			c, err := Load(writeFile(t, t.TempDir(), "config.yml", base+tt.extra), nil)
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

func TestRedirectsAreOffUnlessDisableIsFalse(t *testing.T) {
	base := "storage:\n  s3:\n    bucket: b\n    region: us-east-1\n"
	tests := []struct {
		name string
		file string
		env  []string
		want bool
	}{
		{"absent", base, nil, false},
		{"disabled", base + "  redirect:\n    disable: true\n", nil, false},
		{"enabled in the file", base + "  redirect:\n    disable: false\n", nil, true},
		{"enabled by variable", base, []string{"REGISTRY_STORAGE_REDIRECT_DISABLE=false"}, true},
		{"disabled by variable", base + "  redirect:\n    disable: false\n", []string{"REGISTRY_STORAGE_REDIRECT_DISABLE=true"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(writeFile(t, t.TempDir(), "config.yml", tt.file), tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Storage.Redirect.On(); got != tt.want {
				t.Errorf("redirect on = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestS3KeysAreSuggestedWhenMisplaced(t *testing.T) {
	path := writeFile(t, t.TempDir(), "config.yml", "storage:\n  s3:\n    region: us-east-1\n  bucket: b\n")
	_, err := Load(path, nil)
	ps := problems(t, err)
	// The misplaced key with its suggestion, and the consequence of it in
	// the same report: the s3 section lacks its bucket.
	if len(ps) != 2 || !strings.Contains(ps[0].Msg, "storage.s3.bucket") || ps[1].Field != "storage.s3.bucket" {
		t.Errorf("want the misplaced key suggesting storage.s3.bucket, then the missing bucket, got:\n%v", err)
	}
}

func TestRedirectWithTheFilesystemDriverWarns(t *testing.T) {
	path := writeFile(t, t.TempDir(), "config.yml", "storage:\n  filesystem:\n    rootdirectory: /x\n  redirect:\n    disable: false\n")
	c, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "storage.redirect") {
		t.Errorf("warnings = %q, want one about storage.redirect", c.Warnings)
	}
}
