package s3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/internal/testkit"
	"github.com/wharf-registry/wharf/pkg/storage"
)

// BenchmarkThroughput measures a 256 MiB blob through the driver and the
// Store on each server, beside the server's own single-stream figure (one
// PutObject / GetObject with the SDK). Run it once, for BENCHMARKS.md:
//
//	go test -run '^$' -bench Throughput -benchtime 1x ./pkg/storage/s3/
func BenchmarkThroughput(b *testing.B) {
	const size = 256 << 20
	block := randomBytes(42, 1<<20)
	stream := func() io.Reader { return io.LimitReader(&repeat{block: block}, size) }
	h := sha256.New()
	io.Copy(h, stream())
	blobDigest := digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil))

	for _, spec := range testkit.S3Kinds {
		s := running[spec.Name]
		if s == nil {
			continue
		}
		ctx := context.Background()
		cfg := s.config(b)
		cfg.ChunkSize = DefaultChunkSize
		d := s.newDriver(b, cfg)
		raw := s.client()
		key := func(p string) *string { k, _ := d.key(p); return &k }
		n := 0
		path := func(name string) string { n++; return fmt.Sprintf("/bench/%s-%d", name, n) }

		b.Run(spec.Name+"/sdk-put-object", func(b *testing.B) {
			b.SetBytes(size)
			whole := bytes.Repeat(block, size/len(block))
			b.ResetTimer()
			for range b.N {
				_, err := raw.PutObject(ctx, &s3sdk.PutObjectInput{Bucket: aws.String(testBucket), Key: key(path("sdk")), Body: bytes.NewReader(whole), ContentLength: aws.Int64(size)})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(spec.Name+"/sdk-get-object", func(b *testing.B) {
			b.SetBytes(size)
			for range b.N {
				out, err := raw.GetObject(ctx, &s3sdk.GetObjectInput{Bucket: aws.String(testBucket), Key: key(fmt.Sprintf("/bench/sdk-%d", n))})
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, out.Body)
				out.Body.Close()
			}
		})
		var written string
		b.Run(spec.Name+"/driver-writer", func(b *testing.B) {
			b.SetBytes(size)
			for range b.N {
				written = path("writer")
				w, err := d.Writer(ctx, written, true)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.CopyBuffer(w, stream(), make([]byte, 1<<20)); err != nil {
					b.Fatal(err)
				}
				if err := w.Commit(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(spec.Name+"/driver-move", func(b *testing.B) {
			b.SetBytes(size)
			for range b.N {
				dst := path("moved")
				if err := d.Move(ctx, written, dst); err != nil {
					b.Fatal(err)
				}
				written = dst
			}
		})
		b.Run(spec.Name+"/driver-reader", func(b *testing.B) {
			b.SetBytes(size)
			for range b.N {
				rc, err := d.Reader(ctx, written, 0)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, rc)
				rc.Close()
			}
		})
		st := storage.New(d, storage.Options{})
		b.Run(spec.Name+"/store-push", func(b *testing.B) {
			b.SetBytes(size)
			for range b.N {
				if _, err := st.PutBlob(ctx, "bench", blobDigest, stream(), size); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(spec.Name+"/store-pull", func(b *testing.B) {
			b.SetBytes(size)
			for range b.N {
				rc, _, err := st.OpenBlob(ctx, "bench", blobDigest)
				if err != nil {
					b.Fatal(err)
				}
				io.CopyBuffer(io.Discard, rc, make([]byte, 1<<20))
				rc.Close()
			}
		})
	}
}

// repeat reads its block over and over.
type repeat struct {
	block []byte
	off   int
}

func (r *repeat) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := copy(p[n:], r.block[r.off:])
		n += k
		r.off = (r.off + k) % len(r.block)
	}
	return n, nil
}
