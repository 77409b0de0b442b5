package s3

import (
	"context"
	"errors"
	"testing"

	"github.com/wharf-registry/wharf/pkg/storage"
)

// copyDriver is a driver through f that copies in parts of S3's minimum
// size, at most 3 at once, so a small file makes a multipart copy.
func copyDriver(t *testing.T, s *server, f *s3Front) *Driver {
	cfg := s.config(t)
	cfg.RegionEndpoint = f.URL
	cfg.MultipartCopyChunkSize, cfg.MultipartCopyThresholdSize = MinChunkSize, MinChunkSize
	cfg.MultipartCopyMaxConcurrency = 3
	return s.newDriver(t, cfg)
}

// Moving a file over the copy threshold (an upload's data into blobs/)
// copies its parts server-side several at once, within the configured
// concurrency, and the object at the destination is the file's bytes.
func TestMoveCopiesPartsInParallel(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		f := newS3Front(t, s)
		d := copyDriver(t, s, f)
		content := randomBytes(31, 6*MinChunkSize+54321) // 6 ranges, the tail merged
		appendTo(t, d, "/up/data", 0, content, 1<<20, true)
		if err := d.Move(context.Background(), "/up/data", "/blobs/x/data"); err != nil {
			t.Fatal(err)
		}
		if got := f.PartCopies.Load(); got != 6 {
			t.Fatalf("%d UploadPartCopy requests, want 6", got)
		}
		if got := f.MaxCopies.Load(); got < 2 || got > 3 {
			t.Fatalf("at most %d part copies at once, want 2 or 3 (multipartcopymaxconcurrency 3)", got)
		}
		if got, ok := storedDigest(t, s, d, "/blobs/x/data"); !ok || got != sha256Of(content) {
			t.Fatalf("moved object %s (exists %v), want %s", got, ok, sha256Of(content))
		}
		if _, ok := storedDigest(t, s, d, "/up/data"); ok {
			t.Fatal("the source is still there after the move")
		}
		if ids := uploadsOf(t, s, d, "/blobs/x/data"); len(ids) != 0 {
			t.Fatalf("uploads left at the destination: %v", ids)
		}
	})
}

// A part copy that fails (every retry) fails the move: the multipart copy
// is aborted, nothing appears at the destination, and the source keeps
// every byte.
func TestMoveWithAFailingPartCopyLeavesNothing(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		for _, op := range []string{"UploadPartCopy:1", "UploadPartCopy:4", "CompleteMultipartUpload"} {
			t.Run(op, func(t *testing.T) {
				f := newS3Front(t, s)
				d := copyDriver(t, s, f)
				content := randomBytes(32, 6*MinChunkSize)
				appendTo(t, d, "/up/data", 0, content, 1<<20, true)
				// Complete the source's own upload first (reading does), so
				// that the only CompleteMultipartUpload the move sends is
				// its copy's.
				rc, err := d.Reader(context.Background(), "/up/data", 0)
				if err != nil {
					t.Fatal(err)
				}
				rc.Close()
				f.FailOn(op)
				err = d.Move(context.Background(), "/up/data", "/blobs/x/data")
				if err == nil {
					t.Fatal("move succeeded despite the failing request")
				}
				if f.Faults.Load() == 0 {
					t.Fatalf("no %s was attempted", op)
				}
				if _, err := d.Stat(context.Background(), "/blobs/x/data"); !errors.Is(err, storage.ErrPathNotFound) {
					t.Fatalf("stat destination after a failed move: %v, want not found", err)
				}
				if ids := uploadsOf(t, s, d, "/blobs/x/data"); len(ids) != 0 {
					t.Fatalf("uploads left at the destination: %v", ids)
				}
				if got, ok := storedDigest(t, s, d, "/up/data"); !ok || got != sha256Of(content) {
					t.Fatalf("source after a failed move: %s (exists %v), want %s", got, ok, sha256Of(content))
				}
			})
		}
	})
}
