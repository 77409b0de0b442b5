package s3

import (
	"bytes"
	"context"
	"testing"
)

// Discard leaves the file as it was when the writer opened it, whether
// what was written sat in the buffer, went out as parts of an upload the
// writer continued, or started an upload of its own; and the file takes
// appends normally afterwards.
func TestWriterDiscardKeepsTheFileAsOpened(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		cases := []struct {
			name            string
			before, dropped int
		}{
			{"buffered", 1000, 100},
			{"own upload", 1000, 2*MinChunkSize + 7},
			{"continued upload", MinChunkSize + 10, 2*MinChunkSize + 7},
		}
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				ctx := context.Background()
				d := s.newDriver(t, s.config(t))
				const p = "/uploads/d/data"
				before := randomBytes(byte(40+i), tc.before)
				appendTo(t, d, p, 0, before, 1<<20, true)
				uploads := len(uploadsOf(t, s, d, p))

				w, err := d.Writer(ctx, p, true)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := w.Write(randomBytes(byte(50+i), tc.dropped)); err != nil {
					t.Fatal(err)
				}
				if err := w.Discard(ctx); err != nil {
					t.Fatal(err)
				}
				if w.Size() != int64(len(before)) {
					t.Errorf("writer size after Discard = %d, want %d", w.Size(), len(before))
				}
				if got := statSize(t, d, p); got != int64(len(before)) {
					t.Fatalf("size after Discard = %d, want %d", got, len(before))
				}
				if n := len(uploadsOf(t, s, d, p)); n != uploads {
					t.Fatalf("%d multipart uploads after Discard, want %d", n, uploads)
				}
				more := randomBytes(byte(60+i), MinChunkSize+3)
				appendTo(t, d, p, int64(len(before)), more, 1<<20, true)
				if got := readAll(t, d, p, 0); !bytes.Equal(got, append(before, more...)) {
					t.Fatalf("after Discard and an append: %d bytes, want %d", len(got), len(before)+len(more))
				}
			})
		}
	})
}
