package scaleout

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/internal/testkit"
)

// throughputSize is the blob each benchmark iteration moves, as large as
// pkg/storage/s3's figures over the driver (256 MiB) would take too long
// three times over on a shared two-core machine; 128 MiB still spans many
// parts of every size.
const throughputSize = 128 << 20

// BenchmarkThroughputThroughTheProxy measures blob push and pull through the
// round-robin proxy in front of three registries on each S3 server: a
// monolithic push (one POST with ?digest=, one process), a chunked push
// (32 MiB PATCHes, each on the next process) and a pull. Run it once, for
// BENCHMARKS.md:
//
//	go test -run '^$' -bench . -benchtime 1x ./test/scaleout/
func BenchmarkThroughputThroughTheProxy(b *testing.B) {
	for _, spec := range testkit.S3Kinds {
		b.Run(spec.Name, func(b *testing.B) {
			s := needS3(b, spec.Name)
			c := startCluster(b, s, clusterOptions{})
			base, repo := c.proxy.URL(), "bench/blob"
			seed := uint64(0)
			fresh := func() ([]byte, digest.Digest) {
				seed++
				content := randomBytes(seed, throughputSize)
				return content, digest.FromBytes(content)
			}
			last := benchPushMonolithic(b, base, repo, fresh)
			b.Run("push-chunked-32MiB", func(b *testing.B) {
				b.SetBytes(throughputSize)
				const chunk = 32 << 20
				for range b.N {
					b.StopTimer()
					content, d := fresh()
					b.StartTimer()
					loc := startUpload(b, base, repo)
					for off := 0; off < len(content); off += chunk {
						loc = patchChunk(b, base, loc, int64(off), content[off:min(off+chunk, len(content))])
					}
					finishUpload(b, base, loc, d)
				}
			})
			b.Run("pull", func(b *testing.B) {
				b.SetBytes(throughputSize)
				for range b.N {
					resp, err := httpClient.Get(fmt.Sprintf("%s/v2/%s/blobs/%s", base, repo, last))
					if err != nil {
						b.Fatal(err)
					}
					h := sha256.New()
					n, err := io.Copy(h, resp.Body)
					resp.Body.Close()
					if err != nil || n != throughputSize || digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil)) != last {
						b.Fatalf("pull: %s, %d bytes, %v", resp.Status, n, err)
					}
				}
			})
		})
	}
}

// benchPushMonolithic runs the sub-benchmark push-monolithic: per iteration
// one POST with ?digest= of fresh content to base. It returns the digest of
// the last blob pushed.
func benchPushMonolithic(b *testing.B, base, repo string, fresh func() ([]byte, digest.Digest)) digest.Digest {
	return benchPush(b, "push-monolithic", fresh, func(b *testing.B, content []byte, d digest.Digest) {
		resp, body := do(b, http.MethodPost, base+"/v2/"+repo+"/blobs/uploads/?digest="+d.String(), "",
			bytes.NewReader(content), http.Header{"Content-Type": {"application/octet-stream"}})
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("push: %s %s", resp.Status, body)
		}
	})
}

// benchPush runs push as sub-benchmark name, each iteration with fresh
// content (made untimed), and returns the digest pushed last.
func benchPush(b *testing.B, name string, fresh func() ([]byte, digest.Digest), push func(b *testing.B, content []byte, d digest.Digest)) digest.Digest {
	var last digest.Digest
	b.Run(name, func(b *testing.B) {
		b.SetBytes(throughputSize)
		for range b.N {
			b.StopTimer()
			content, d := fresh()
			b.StartTimer()
			push(b, content, d)
			last = d
		}
	})
	return last
}
