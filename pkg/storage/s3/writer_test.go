package s3

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/wharf-registry/wharf/pkg/storage"
)

// uploadsOf lists the multipart uploads in progress for p's key. MinIO
// lists uploads only by exact key, which is what this asks for.
func uploadsOf(t *testing.T, s *server, d *Driver, p string) []string {
	t.Helper()
	key, _ := d.key(p)
	out, err := s.client().ListMultipartUploads(context.Background(), &s3sdk.ListMultipartUploadsInput{Bucket: aws.String(testBucket), Prefix: &key})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, u := range out.Uploads {
		if aws.ToString(u.Key) == key {
			ids = append(ids, aws.ToString(u.UploadId))
		}
	}
	return ids
}

// appendTo opens p for appending on d, checks the size it resumes from,
// writes content in pieces of step bytes and commits (or only closes).
func appendTo(t *testing.T, d *Driver, p string, wantSize int64, content []byte, step int, commit bool) {
	t.Helper()
	ctx := context.Background()
	w, err := d.Writer(ctx, p, true)
	if err != nil {
		t.Fatal(err)
	}
	if w.Size() != wantSize {
		w.Cancel(ctx)
		t.Fatalf("writer resumes at %d, want %d", w.Size(), wantSize)
	}
	for b := content; len(b) > 0; {
		n := min(step, len(b))
		if _, err := w.Write(b[:n]); err != nil {
			t.Fatal(err)
		}
		b = b[n:]
	}
	if w.Size() != wantSize+int64(len(content)) {
		t.Fatalf("writer size %d after writing, want %d", w.Size(), wantSize+int64(len(content)))
	}
	if commit {
		err = w.Commit(ctx)
	} else {
		err = w.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
}

func statSize(t *testing.T, d storage.Driver, p string) int64 {
	t.Helper()
	fi, err := d.Stat(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size
}

// Two drivers stand for two registry processes: every append resumes from
// what the bucket holds, whichever process wrote it.
func TestWriterAppendsAcrossProcesses(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		cfg := s.config(t)
		d1, d2 := s.newDriver(t, cfg), s.newDriver(t, cfg)
		const p = "/uploads/u1/data"
		var all []byte
		steps := []struct {
			d      *Driver
			size   int
			step   int
			commit bool
		}{
			{d1, 3 << 20, 1 << 20, true},            // small: a plain object
			{d2, 4 << 20, 1 << 20, true},            // crosses a chunk: a part and a tail
			{d1, 1, 1, false},                       // Close without Commit keeps it too
			{d2, 9<<20 + 5, 333, true},              // small writes across two parts
			{d1, 2*MinChunkSize + 1, 1 << 20, true}, // two more parts
		}
		for i, st := range steps {
			content := randomBytes(byte(10+i), st.size)
			appendTo(t, st.d, p, int64(len(all)), content, st.step, st.commit)
			all = append(all, content...)
			if got := statSize(t, d1, p); got != int64(len(all)) {
				t.Fatalf("step %d: the other process sees %d bytes, want %d", i, got, len(all))
			}
		}
		if len(uploadsOf(t, s, d1, p)) != 1 {
			t.Fatalf("want one multipart upload in progress, got %v", uploadsOf(t, s, d1, p))
		}
		if got := readAll(t, d2, p, 7<<20-10); !bytes.Equal(got, all[7<<20-10:]) {
			t.Fatalf("read from an offset: %d bytes, want %d", len(got), len(all)-(7<<20-10))
		}
		if got := readAll(t, d1, p, 0); !bytes.Equal(got, all) {
			t.Fatalf("read %d bytes, want %d (equal=false)", len(got), len(all))
		}
		if ids := uploadsOf(t, s, d1, p); len(ids) != 0 {
			t.Fatalf("reading completes the upload; still in progress: %v", ids)
		}
		// Appending to the completed object copies it server-side into a
		// new upload.
		more := randomBytes(99, 100)
		appendTo(t, d2, p, int64(len(all)), more, 7, true)
		all = append(all, more...)
		if got := readAll(t, d1, p, 0); !bytes.Equal(got, all) {
			t.Fatalf("after appending to a completed file: %d bytes, want %d", len(got), len(all))
		}
	})
}

// The writer uploads parts as they fill, not at Commit: a blob never sits
// whole in memory or on local disk. With partsInFlight parts uploading at
// once, a writer that has sent more must have finished the surplus.
func TestWriterUploadsPartsBeforeCommit(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		ctx := context.Background()
		d := s.newDriver(t, s.config(t))
		const p = "/uploads/stream/data"
		const sent = partsInFlight + 3
		content := randomBytes(5, sent*MinChunkSize+123)
		w, err := d.Writer(ctx, p, true)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(content); err != nil {
			t.Fatal(err)
		}
		ids := uploadsOf(t, s, d, p)
		if len(ids) != 1 {
			t.Fatalf("uploads before Commit: %v", ids)
		}
		key, _ := d.key(p)
		parts, err := s.client().ListParts(ctx, &s3sdk.ListPartsInput{Bucket: aws.String(testBucket), Key: &key, UploadId: &ids[0]})
		if err != nil || len(parts.Parts) < sent-partsInFlight {
			t.Fatalf("parts uploaded before Commit: %d, %v (want at least %d of %d)", len(parts.Parts), err, sent-partsInFlight, sent)
		}
		if err := w.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, d, p, 0); !bytes.Equal(got, content) {
			t.Fatalf("read %d bytes back, want %d", len(got), len(content))
		}
	})
}

func TestWriterCancelRemovesFileAndUpload(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		ctx := context.Background()
		d := s.newDriver(t, s.config(t))
		const p = "/uploads/cancel/data"
		appendTo(t, d, p, 0, randomBytes(6, MinChunkSize+10), 1<<20, true)
		w, err := d.Writer(ctx, p, true)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(randomBytes(7, MinChunkSize))
		if err := w.Cancel(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Stat(ctx, p); !errors.Is(err, storage.ErrPathNotFound) {
			t.Fatalf("Stat after Cancel = %v", err)
		}
		if ids := uploadsOf(t, s, d, p); len(ids) != 0 {
			t.Fatalf("uploads left after Cancel: %v", ids)
		}
	})
}

func TestWriterWithoutAppendStartsEmpty(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		ctx := context.Background()
		d := s.newDriver(t, s.config(t))
		const p = "/f/data"
		appendTo(t, d, p, 0, randomBytes(8, MinChunkSize+10), 1<<20, true)
		w, err := d.Writer(ctx, p, false)
		if err != nil {
			t.Fatal(err)
		}
		if w.Size() != 0 || statSize(t, d, p) != 0 {
			t.Fatalf("truncating writer: size %d, stat %d", w.Size(), statSize(t, d, p))
		}
		w.Write([]byte("new"))
		if err := w.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, d, p, 0); string(got) != "new" {
			t.Fatalf("content %q", got)
		}
		if ids := uploadsOf(t, s, d, p); len(ids) != 0 {
			t.Fatalf("the old upload was not aborted: %v", ids)
		}
	})
}

// Two writers opened on the same state (a retried PATCH landing on another
// process while the first still runs): the first to persist wins, the
// other fails with ErrRangeInvalid and changes nothing.
func TestConcurrentWritersOneWinsTheOtherFails(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		for _, tc := range []struct {
			name       string
			base, tail int // base: what the file holds; tail: what each writer adds
		}{
			{"small file", 100, 200},
			{"upload in progress, tails only", MinChunkSize + 10, 100},
			{"upload in progress, new parts", MinChunkSize + 10, MinChunkSize + 20},
		} {
			t.Run(tc.name, func(t *testing.T) {
				ctx := context.Background()
				cfg := s.config(t)
				d1, d2 := s.newDriver(t, cfg), s.newDriver(t, cfg)
				const p = "/uploads/race/data"
				base := randomBytes(20, tc.base)
				appendTo(t, d1, p, 0, base, 1<<20, true)
				w1, err := d1.Writer(ctx, p, true)
				if err != nil {
					t.Fatal(err)
				}
				w2, err := d2.Writer(ctx, p, true)
				if err != nil {
					t.Fatal(err)
				}
				mine := randomBytes(21, tc.tail)
				if _, err := w1.Write(mine); err != nil {
					t.Fatal(err)
				}
				if err := w1.Commit(ctx); err != nil {
					t.Fatal(err)
				}
				_, err = w2.Write(randomBytes(22, tc.tail))
				if err == nil {
					err = w2.Commit(ctx)
				} else {
					w2.Close()
				}
				if !errors.Is(err, storage.ErrRangeInvalid) || !errors.Is(err, ErrConcurrentWrite) {
					t.Fatalf("losing writer: %v, want ErrRangeInvalid and ErrConcurrentWrite", err)
				}
				want := append(base, mine...)
				if got := readAll(t, d2, p, 0); !bytes.Equal(got, want) {
					t.Fatalf("read %d bytes, want the winner's %d", len(got), len(want))
				}
			})
		}
	})
}

func TestDeleteAbortsUploadInProgress(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		ctx := context.Background()
		d := s.newDriver(t, s.config(t))
		for _, p := range []string{"/uploads/abandoned/data", "/uploads/file/data"} {
			appendTo(t, d, p, 0, randomBytes(9, MinChunkSize+10), 1<<20, true)
			put(t, d, p[:len(p)-5]+"/startedat", "2020-01-01T00:00:00Z")
		}
		if err := d.Delete(ctx, "/uploads/abandoned"); err != nil {
			t.Fatal(err)
		}
		if err := d.Delete(ctx, "/uploads/file/data"); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"/uploads/abandoned/data", "/uploads/file/data"} {
			if ids := uploadsOf(t, s, d, p); len(ids) != 0 {
				t.Errorf("%s: uploads left: %v", p, ids)
			}
		}
		if got, err := d.List(ctx, "/uploads"); err != nil || len(got) != 1 || got[0] != "/uploads/file" {
			t.Errorf("left: %v, %v", got, err)
		}
	})
}
