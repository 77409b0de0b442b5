package storage

import (
	"bytes"
	"context"
	"testing"
)

// An UploadWriter stores the bytes given, whatever the buffers' sizes:
// whole aligned buffers (written with O_DIRECT where the filesystem has
// it), a short one, and a writer opened at an unaligned size (which no
// longer can be); its digest is that of the data so far.
func TestUploadWriterStoresTheBytesWritten(t *testing.T) {
	ctx := context.Background()
	s, root := newStore(t)
	content := make([]byte, 3<<20+12345)
	for i := range content {
		content[i] = byte(i*31 + i>>11)
	}
	chunks := [][]byte{content[:2<<20], content[2<<20 : 3<<20+777], content[3<<20+777:]}
	u, err := s.NewUpload(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	var off int
	for i, c := range chunks {
		w, err := u.Writer(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, part := range [][]byte{c[:len(c)/2], c[len(c)/2:]} {
			if _, err := w.Write(part); err != nil {
				t.Fatalf("chunk %d: %v", i, err)
			}
		}
		off += len(c)
		if got, want := w.Digest(), sha256Of(content[:off]); got != want || w.Size() != int64(off) {
			t.Fatalf("chunk %d: digest %s, size %d; want %s, %d", i, got, w.Size(), want, off)
		}
		if err := w.Close(ctx); err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
	}
	d := sha256Of(content)
	if _, err := u.Commit(ctx, d); err != nil {
		t.Fatal(err)
	}
	got, err := s.d.GetContent(ctx, blobDataPath(d))
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("stored blob: %d bytes, %v; want the %d bytes appended", len(got), err, len(content))
	}
	w, err := s.d.(*FilesystemDriver).uncachedWriter(ctx, "/probe")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	dw, ok := w.(*directWriter)
	t.Logf("O_DIRECT on the filesystem of %s: %v", root, ok && dw.direct)
}
