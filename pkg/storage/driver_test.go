package storage

import (
	"bytes"
	"context"
	"io"
	"os"
	"testing"
	"time"
)

// plainDriver hides the filesystem driver's optional interfaces (FileOpener,
// Toucher), leaving the Driver methods only: what an object-store backend
// would offer. The Store must work the same over it.
type plainDriver struct{ Driver }

func TestStoreWorksOverADriverWithoutOptionalInterfaces(t *testing.T) {
	fs, err := NewFilesystemDriver(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := New(plainDriver{fs}, Options{})
	ctx := context.Background()
	img := pushImage(t, s, "app", "v1", "plain")
	if _, err := s.MountBlob(ctx, "app", "other", img.Blobs[1].Digest); err != nil {
		t.Fatal(err)
	}
	if err := readable(t, s, "app", "v1"); err != nil {
		t.Fatal(err)
	}

	content := []byte("layer of plain")
	rc, d, err := s.OpenBlob(ctx, "other", img.Blobs[1].Digest)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, ok := rc.(*os.File); ok {
		t.Fatal("got an *os.File from a driver without FileOpener")
	}
	// What http.ServeContent does for a Range request.
	if end, err := rc.Seek(0, io.SeekEnd); err != nil || end != d.Size {
		t.Fatalf("Seek end = %d, %v", end, err)
	}
	if _, err := rc.Seek(6, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	part := make([]byte, 2)
	if _, err := io.ReadFull(rc, part); err != nil || string(part) != string(content[6:8]) {
		t.Fatalf("read at 6 = %q, %v", part, err)
	}
	if _, err := rc.Seek(-3, io.SeekEnd); err != nil {
		t.Fatal(err)
	}
	if rest, _ := io.ReadAll(rc); !bytes.Equal(rest, content[len(content)-3:]) {
		t.Fatalf("tail = %q", rest)
	}

	// Without Toucher, a manifest push refreshes links by rewriting them.
	link := "/docker/registry/v2/repositories/app/_layers/sha256/" + img.Blobs[1].Digest.Encoded() + "/link"
	before, _ := fs.Stat(ctx, link)
	old := before.ModTime.Add(-2 * time.Hour)
	os.Chtimes(fs.Root()+link, old, old)
	putManifest(t, s, "app", "v2", "", imageBody("application/vnd.oci.image.manifest.v1+json", img.Blobs[0], img.Blobs[1:], nil, "application/vnd.x"))
	after, _ := fs.Stat(ctx, link)
	if !after.ModTime.After(old.Add(time.Hour)) {
		t.Errorf("link not refreshed by the manifest push: %v", after.ModTime)
	}
}
