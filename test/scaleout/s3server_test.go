package scaleout

import "github.com/wharf-registry/wharf/internal/testkit"

// The S3 servers, started once for the whole package by TestMain and shared
// by every test, each test under a root directory of its own.

const (
	s3AccessKey = "WHARFSCALEOUTKEY"
	s3SecretKey = "wharf-scaleout-secret-0123456789"
	s3Bucket    = "wharf-scaleout"
)

// s3Server is a running S3 server with s3Bucket created.
type s3Server = testkit.S3Server
