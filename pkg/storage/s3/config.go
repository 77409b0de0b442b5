package s3

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Limits of the S3 API on multipart uploads, and registry:2's defaults.
const (
	// MinChunkSize is the smallest part S3 accepts except the last.
	MinChunkSize = 5 << 20
	// MaxChunkSize is the largest part (and the largest single copy).
	MaxChunkSize = 5 << 30
	// maxParts is the most parts one multipart upload may have.
	maxParts = 10000

	DefaultChunkSize                   = 2 * MinChunkSize
	DefaultMultipartCopyChunkSize      = 32 << 20
	DefaultMultipartCopyMaxConcurrency = 100
	DefaultMultipartCopyThresholdSize  = 32 << 20
)

// Config is the driver's configuration, under registry:2's key names
// (storage.s3.* in its YAML, REGISTRY_STORAGE_S3_* in its environment).
//
// The zero value is not registry:2's default: start from DefaultConfig and
// decode over it, so that an absent "secure" stays true.
type Config struct {
	// AccessKey and SecretKey are static credentials. When AccessKey is
	// empty the SDK's default chain is used: AWS_ACCESS_KEY_ID,
	// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, the shared files
	// (AWS_PROFILE), web identity, ECS and EC2 instance roles.
	AccessKey string `yaml:"accesskey"`
	SecretKey string `yaml:"secretkey"`
	// Region signs requests. Empty means AWS_REGION (or the shared
	// config), else us-east-1 when RegionEndpoint is set.
	Region string `yaml:"region"`
	// RegionEndpoint is the S3 server's URL ("http://minio:9000"). Without
	// a scheme, Secure picks https or http. Empty means AWS.
	RegionEndpoint string `yaml:"regionendpoint"`
	Bucket         string `yaml:"bucket"`
	// RootDirectory prefixes every key; leading and trailing slashes are
	// ignored, as registry:2 does.
	RootDirectory string `yaml:"rootdirectory"`
	// Secure selects https for an endpoint given without a scheme (and for
	// AWS itself). registry:2's default is true.
	Secure bool `yaml:"secure"`
	// SkipVerify disables TLS certificate verification.
	SkipVerify bool `yaml:"skipverify"`
	// ForcePathStyle addresses buckets as endpoint/bucket/key instead of
	// bucket.endpoint/key; MinIO and Versity need it unless DNS is set up.
	ForcePathStyle bool `yaml:"forcepathstyle"`
	// V4Auth must be true: only Signature Version 4 is spoken.
	V4Auth bool `yaml:"v4auth"`
	// Encrypt asks for server-side encryption: aws:kms with KeyID when
	// KeyID is set, else AES256.
	Encrypt bool   `yaml:"encrypt"`
	KeyID   string `yaml:"keyid"`
	// StorageClass is sent with new objects unless it is empty, "NONE" or
	// "STANDARD" (every server's default).
	StorageClass string `yaml:"storageclass"`
	// ChunkSize is the part size of blob uploads, at least 5 MiB. Each
	// open writer buffers up to 5 chunks in memory (4 uploading, 1
	// filling); beyond the first they come from a budget of 32 MiB per
	// driver (parts.go).
	ChunkSize int64 `yaml:"chunksize"`
	// MultipartCopyChunkSize, MultipartCopyMaxConcurrency and
	// MultipartCopyThresholdSize shape server-side copies (Move): objects
	// larger than the threshold are copied in parallel ranges.
	MultipartCopyChunkSize      int64 `yaml:"multipartcopychunksize"`
	MultipartCopyMaxConcurrency int64 `yaml:"multipartcopymaxconcurrency"`
	MultipartCopyThresholdSize  int64 `yaml:"multipartcopythresholdsize"`
	// Redirect enables URLFor (presigned GET URLs). In registry:2 it is
	// storage.redirect.disable, outside the s3 section, hence no YAML key.
	Redirect bool `yaml:"-"`
}

// DefaultConfig returns registry:2's defaults.
func DefaultConfig() Config {
	return Config{
		Secure:                      true,
		V4Auth:                      true,
		ChunkSize:                   DefaultChunkSize,
		MultipartCopyChunkSize:      DefaultMultipartCopyChunkSize,
		MultipartCopyMaxConcurrency: DefaultMultipartCopyMaxConcurrency,
		MultipartCopyThresholdSize:  DefaultMultipartCopyThresholdSize,
	}
}

// ErrConfig is wrapped by every configuration error from New.
var ErrConfig = errors.New("s3 storage configuration")

// normalize fills zero sizes with defaults and reports every problem.
func (c *Config) normalize() error {
	def := DefaultConfig()
	if c.ChunkSize == 0 {
		c.ChunkSize = def.ChunkSize
	}
	if c.MultipartCopyChunkSize == 0 {
		c.MultipartCopyChunkSize = def.MultipartCopyChunkSize
	}
	if c.MultipartCopyMaxConcurrency == 0 {
		c.MultipartCopyMaxConcurrency = def.MultipartCopyMaxConcurrency
	}
	if c.MultipartCopyThresholdSize == 0 {
		c.MultipartCopyThresholdSize = def.MultipartCopyThresholdSize
	}
	c.RootDirectory = strings.Trim(c.RootDirectory, "/")
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	if c.Bucket == "" {
		bad("bucket is required")
	}
	if c.AccessKey != "" && c.SecretKey == "" {
		bad("secretkey is required with accesskey")
	}
	if !c.V4Auth {
		bad("v4auth: only Signature Version 4 is supported")
	}
	if c.ChunkSize < MinChunkSize || c.ChunkSize > MaxChunkSize {
		bad("chunksize %d is outside [%d, %d]", c.ChunkSize, MinChunkSize, MaxChunkSize)
	}
	if c.MultipartCopyChunkSize < MinChunkSize || c.MultipartCopyChunkSize > MaxChunkSize {
		bad("multipartcopychunksize %d is outside [%d, %d]", c.MultipartCopyChunkSize, MinChunkSize, MaxChunkSize)
	}
	if c.MultipartCopyMaxConcurrency < 1 {
		bad("multipartcopymaxconcurrency must be at least 1")
	}
	if c.MultipartCopyThresholdSize < 0 || c.MultipartCopyThresholdSize > MaxChunkSize {
		bad("multipartcopythresholdsize %d is outside [0, %d]", c.MultipartCopyThresholdSize, MaxChunkSize)
	}
	if strings.Contains(c.RootDirectory, "//") || strings.ContainsFunc(c.RootDirectory, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		bad("rootdirectory %q has an empty component or a control character", c.RootDirectory)
	}
	return errors.Join(errs...)
}

// endpoint returns the base URL to send requests to, or "" for AWS's own.
func (c *Config) endpoint(region string) string {
	scheme := "https://"
	if !c.Secure {
		scheme = "http://"
	}
	switch {
	case c.RegionEndpoint == "" && c.Secure:
		return ""
	case c.RegionEndpoint == "":
		return scheme + "s3." + region + ".amazonaws.com"
	case strings.Contains(c.RegionEndpoint, "://"):
		return c.RegionEndpoint
	default:
		return scheme + c.RegionEndpoint
	}
}

// newClient builds the SDK client. Checksums are computed and validated
// only when an operation requires them: the SDK's default (always) breaks
// multipart completion on several S3-compatible servers.
func newClient(ctx context.Context, c Config) (*s3sdk.Client, error) {
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		// Part uploads and range copies run in parallel against one host.
		t.MaxIdleConnsPerHost = 128
		if c.SkipVerify {
			if t.TLSClientConfig == nil {
				t.TLSClientConfig = &tls.Config{}
			}
			t.TLSClientConfig.InsecureSkipVerify = true
		}
	})
	opts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithHTTPClient(httpClient),
		awsconfig.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		awsconfig.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
	}
	if c.Region != "" {
		opts = append(opts, awsconfig.WithRegion(c.Region))
	}
	if c.AccessKey != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(c.AccessKey, c.SecretKey, "")))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if awsCfg.Region == "" {
		if c.RegionEndpoint == "" {
			return nil, fmt.Errorf("%w: region is required without regionendpoint", ErrConfig)
		}
		awsCfg.Region = "us-east-1"
	}
	ep := c.endpoint(awsCfg.Region)
	return s3sdk.NewFromConfig(awsCfg, func(o *s3sdk.Options) {
		o.UsePathStyle = c.ForcePathStyle
		if ep != "" {
			o.BaseEndpoint = aws.String(ep)
		}
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	}), nil
}

// objectOptions are the settings applied to every object we create.
type objectOptions struct {
	sse          types.ServerSideEncryption
	kmsKeyID     *string
	storageClass types.StorageClass
}

func (c *Config) objectOptions() objectOptions {
	var o objectOptions
	if c.Encrypt {
		o.sse = types.ServerSideEncryptionAes256
		if c.KeyID != "" {
			o.sse = types.ServerSideEncryptionAwsKms
			o.kmsKeyID = aws.String(c.KeyID)
		}
	}
	switch sc := strings.ToUpper(c.StorageClass); sc {
	case "", "NONE", "STANDARD":
	default:
		o.storageClass = types.StorageClass(sc)
	}
	return o
}
