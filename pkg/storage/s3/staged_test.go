package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/pkg/storage"
)

func blobPath(d digest.Digest) string {
	return fmt.Sprintf("/docker/registry/v2/blobs/%s/%s/%s/data", d.Algorithm(), d.Encoded()[:2], d.Encoded())
}

// putModes are PutBlob's two ways on S3: one PutObject the server checks
// against the digest (servers that refuse a wrong checksum, as both of
// ours do), and the multipart upload to the blob's key used with servers
// that do not, reached here by telling the driver so.
var putModes = []struct {
	name      string
	multipart bool
}{{"verified PutObject", false}, {"multipart", true}}

// storeVia returns a Store on a driver that reaches s through f, forced to
// the multipart way when asked.
func storeVia(t *testing.T, s *server, f *s3Front, multipart bool) (*storage.Store, *Driver) {
	d := driverVia(t, s, f)
	if multipart {
		d.probe.known, d.probe.verifies = true, false
	}
	return storage.New(d, storage.Options{}), d
}

// PutBlob on S3 writes straight to the blob's key: one PutObject, or
// several parts at once of a multipart upload, never a server-side copy,
// and leaves neither a session nor an upload in progress.
func TestPutBlobUploadsStraightToTheBlob(t *testing.T) {
	for _, mode := range putModes {
		t.Run(mode.name, func(t *testing.T) {
			eachServer(t, func(t *testing.T, s *server) {
				f := newS3Front(t, s)
				st, d := storeVia(t, s, f, mode.multipart)
				content := randomBytes(22, 6*MinChunkSize+7)
				desc := pushBlob(t, st, "app", content)
				if got, ok := storedDigest(t, s, d, blobPath(desc.Digest)); !ok || got != desc.Digest {
					t.Fatalf("blob object %s (exists %v), want %s", got, ok, desc.Digest)
				}
				if n := f.Copies.Load(); n != 0 {
					t.Fatalf("%d server-side copies: the blob was moved into place, not uploaded there", n)
				}
				if mode.multipart && f.MaxParts.Load() < 2 {
					t.Fatalf("parts uploaded one at a time")
				}
				if !mode.multipart && (f.UploadParts.Load() != 0 || f.ChecksumPuts.Load() != 2) {
					t.Fatalf("%d parts and %d checksummed PutObjects (probe and blob), want 0 and 2", f.UploadParts.Load(), f.ChecksumPuts.Load())
				}
				if ids := uploadsOf(t, s, d, blobPath(desc.Digest)); len(ids) != 0 {
					t.Fatalf("uploads left at the blob key: %v", ids)
				}
				if got := readBlob(t, st, "app", desc.Digest); !bytes.Equal(got, content) {
					t.Fatal("blob read back differs")
				}
				if dirs, err := d.List(context.Background(), "/docker/registry/v2/repositories/app/_uploads"); err == nil && len(dirs) > 0 {
					t.Fatalf("upload sessions left: %v", dirs)
				}
				// Again, now that the blob exists: the body is still
				// checked, and a wrong one refused with the blob intact.
				pushBlob(t, st, "app", content)
				other := randomBytes(24, len(content))
				_, err := st.PutBlob(context.Background(), "app", desc.Digest, bytes.NewReader(other), int64(len(other)))
				if !errors.Is(err, storage.ErrDigestInvalid) {
					t.Fatalf("PutBlob of other bytes under an existing digest: %v", err)
				}
				if got, ok := storedDigest(t, s, d, blobPath(desc.Digest)); !ok || got != desc.Digest {
					t.Fatalf("blob object %s (exists %v) after the pushes, want %s", got, ok, desc.Digest)
				}
				if ids := uploadsOf(t, s, d, blobPath(desc.Digest)); len(ids) != 0 {
					t.Fatalf("uploads left at the blob key: %v", ids)
				}
			})
		})
	}
}

// A server that ignores x-amz-checksum-sha256 (here: the proxy accepts the
// probe's wrong checksum for it) never gets a blob by plain PutObject: the
// driver finds out once and uses the multipart upload, verified by us
// before it completes.
func TestPutBlobOnAServerIgnoringChecksumsUsesMultipart(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		f := newS3Front(t, s)
		f.IgnoreChecksumsAt(checksumProbePath)
		st, d := storeVia(t, s, f, false)
		content := randomBytes(25, 3*MinChunkSize+5)
		for range 2 {
			desc := pushBlob(t, st, "app", content)
			if got, ok := storedDigest(t, s, d, blobPath(desc.Digest)); !ok || got != desc.Digest {
				t.Fatalf("blob object %s (exists %v), want %s", got, ok, desc.Digest)
			}
		}
		if n := f.ChecksumPuts.Load(); n != 1 {
			t.Fatalf("%d checksummed PutObjects, want the probe's alone", n)
		}
		if f.UploadParts.Load() == 0 {
			t.Fatal("no parts uploaded")
		}
	})
}

// Nothing unverified is ever visible at a blob's key: a wrong digest, a
// short body, a failed request (part, completion or PutObject) all leave
// no object and no upload in progress under the claimed key.
func TestPutBlobFailuresLeaveNothingAtTheBlobKey(t *testing.T) {
	content := randomBytes(23, 4*MinChunkSize+99) // 5 parts
	// A client gone mid-body: the digest and size announced are those of
	// the whole blob, one byte more than the body.
	whole := sha256Of(append(content[:len(content):len(content)], 'x'))
	for _, tc := range []struct {
		name, failOp string
		multipart    bool
		claimed      digest.Digest
		size         int64
		want         error
	}{
		{"wrong digest", "", true, sha256Of([]byte("something else")), int64(len(content)), storage.ErrDigestInvalid},
		{"short body", "", true, whole, int64(len(content)) + 1, storage.ErrSizeInvalid},
		{"part fails", "UploadPart:3", true, sha256Of(content), int64(len(content)), nil},
		{"completion fails", "CompleteMultipartUpload", true, sha256Of(content), int64(len(content)), nil},
		{"verified PutObject: wrong digest", "", false, sha256Of([]byte("something else")), int64(len(content)), storage.ErrDigestInvalid},
		{"verified PutObject: short body", "", false, whole, int64(len(content)) + 1, storage.ErrSizeInvalid},
		{"verified PutObject: long body", "", false, sha256Of(content), int64(len(content)) - 1, nil},
		{"verified PutObject fails", "PutObject", false, sha256Of(content), int64(len(content)), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eachServer(t, func(t *testing.T, s *server) {
				f := newS3Front(t, s)
				st, d := storeVia(t, s, f, tc.multipart)
				if !tc.multipart && !d.verifiesChecksums(context.Background()) {
					t.Fatal("the server did not refuse a wrong checksum")
				}
				f.FailOn(tc.failOp)
				_, err := st.PutBlob(context.Background(), "app", tc.claimed, bytes.NewReader(content), tc.size)
				if err == nil {
					t.Fatal("PutBlob succeeded")
				}
				if tc.want != nil && !errors.Is(err, tc.want) {
					t.Fatalf("PutBlob: %v, want %v", err, tc.want)
				}
				if tc.failOp != "" && f.Faults.Load() == 0 {
					t.Fatalf("no %s was attempted", tc.failOp)
				}
				if !tc.multipart && f.UploadParts.Load() != 0 {
					t.Fatalf("%d parts uploaded: PutBlob fell back to multipart", f.UploadParts.Load())
				}
				key, _ := d.key(blobPath(tc.claimed))
				if _, err := s.client().HeadObject(context.Background(), &s3sdk.HeadObjectInput{Bucket: aws.String(testBucket), Key: &key}); !isNotFound(err) {
					t.Fatalf("HEAD %s after a failed push: %v, want not found", key, err)
				}
				if ids := uploadsOf(t, s, d, blobPath(tc.claimed)); len(ids) != 0 {
					t.Fatalf("uploads left at the blob key: %v", ids)
				}
				if d.budget.used != 0 {
					t.Fatalf("%d bytes of the part budget not given back", d.budget.used)
				}
			})
		})
	}
}
