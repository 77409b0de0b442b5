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

// PutBlob on S3 uploads straight to the blob's key, several parts at once,
// and leaves neither a session nor an upload in progress.
func TestPutBlobUploadsStraightToTheBlob(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		f := newS3Front(t, s)
		d := driverVia(t, s, f)
		st := storage.New(d, storage.Options{})
		content := randomBytes(22, 6*MinChunkSize+7)
		desc := pushBlob(t, st, "app", content)
		if got, ok := storedDigest(t, s, d, blobPath(desc.Digest)); !ok || got != desc.Digest {
			t.Fatalf("blob object %s (exists %v), want %s", got, ok, desc.Digest)
		}
		if f.maxActive.Load() < 2 {
			t.Fatalf("parts uploaded one at a time")
		}
		if n := f.copies.Load(); n != 0 {
			t.Fatalf("%d server-side copies: the blob was moved into place, not uploaded there", n)
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
		// Again, now that the blob exists: nothing changes, nothing is left.
		parts := f.uploadParts.Load()
		pushBlob(t, st, "app", content)
		if ids := uploadsOf(t, s, d, blobPath(desc.Digest)); len(ids) != 0 {
			t.Fatalf("uploads left at the blob key: %v", ids)
		}
		if f.uploadParts.Load() == parts {
			t.Fatal("the second push sent no parts: was the body read at all?")
		}
	})
}

// Nothing unverified is ever visible at a blob's key: a wrong digest, a
// short body, a failed part and a failed completion all abort the upload
// and leave no object and no upload in progress under the claimed key.
func TestPutBlobFailuresLeaveNothingAtTheBlobKey(t *testing.T) {
	content := randomBytes(23, 4*MinChunkSize+99) // 5 parts
	for _, tc := range []struct {
		name, failOp string
		claimed      digest.Digest
		size         int64
		want         error
	}{
		{"wrong digest", "", sha256Of([]byte("something else")), int64(len(content)), storage.ErrDigestInvalid},
		{"short body", "", sha256Of(content), int64(len(content)) + 1, storage.ErrSizeInvalid},
		{"part fails", "UploadPart:3", sha256Of(content), int64(len(content)), nil},
		{"completion fails", "CompleteMultipartUpload", sha256Of(content), int64(len(content)), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eachServer(t, func(t *testing.T, s *server) {
				f := newS3Front(t, s)
				f.failOp.Store(tc.failOp)
				d := driverVia(t, s, f)
				st := storage.New(d, storage.Options{})
				_, err := st.PutBlob(context.Background(), "app", tc.claimed, bytes.NewReader(content), tc.size)
				if err == nil {
					t.Fatal("PutBlob succeeded")
				}
				if tc.want != nil && !errors.Is(err, tc.want) {
					t.Fatalf("PutBlob: %v, want %v", err, tc.want)
				}
				if tc.failOp != "" && f.faults.Load() == 0 {
					t.Fatalf("no %s was attempted", tc.failOp)
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
