package s3

import (
	"context"
	"crypto/sha256"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/internal/testkit"
)

// s3Front is testkit's recording, fault-injecting proxy in front of s.
type s3Front = testkit.S3Front

func newS3Front(t *testing.T, s *server) *s3Front {
	t.Helper()
	return testkit.NewS3Front(t, s.Endpoint)
}

// driverVia returns a driver for s that talks to it through f.
func driverVia(t *testing.T, s *server, f *s3Front) *Driver {
	cfg := s.config(t)
	cfg.RegionEndpoint = f.URL
	return s.newDriver(t, cfg)
}

// storedDigest reads key straight from the server and digests it; found is
// false when there is no such object.
func storedDigest(t *testing.T, s *server, d *Driver, p string) (digest.Digest, bool) {
	t.Helper()
	key, _ := d.key(p)
	out, err := s.client().GetObject(context.Background(), &s3sdk.GetObjectInput{Bucket: aws.String(testBucket), Key: &key})
	if isNotFound(err) {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	h := sha256.New()
	if _, err := io.Copy(h, out.Body); err != nil {
		t.Fatal(err)
	}
	return digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil)), true
}

// A writer keeps several parts uploading at once, and the file assembled
// from them is the bytes written, in order.
func TestWriterUploadsSeveralPartsAtOnce(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		f := newS3Front(t, s)
		d := driverVia(t, s, f)
		content := randomBytes(21, 11*MinChunkSize+12345) // 12 parts, each different
		appendTo(t, d, "/parallel", 0, content, 1<<20, true)
		if got := f.MaxParts.Load(); got < 2 {
			t.Fatalf("at most %d part upload(s) at once, want several", got)
		}
		if got := f.MaxParts.Load(); got > partsInFlight {
			t.Fatalf("%d part uploads at once, more than partsInFlight (%d)", got, partsInFlight)
		}
		rc, err := d.Reader(context.Background(), "/parallel", 0) // completes the upload
		if err != nil {
			t.Fatal(err)
		}
		rc.Close()
		if got, ok := storedDigest(t, s, d, "/parallel"); !ok || got != sha256Of(content) {
			t.Fatalf("stored object %s (exists %v), want %s", got, ok, sha256Of(content))
		}
		if d.budget.used != 0 {
			t.Fatalf("%d bytes of the part budget not given back", d.budget.used)
		}
	})
}
