package scaleout

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"
)

// Chunk sizes around the registries' S3 part size (5 MiB): parts fill,
// tails stay behind in the bucket for the next process, and the last chunk
// is neither.
var chunkSizes = []int{5<<20 + 3, 1<<20 + 17, 7 << 20, 64 << 10, 3<<20 + 1}

// TestChunkedUploadHopsBetweenProcesses sends every request of a chunked
// upload through the round-robin proxy, so no two consecutive ones reach
// the same registry, and the status query in between lands on yet another:
// the session's state (parts, offsets, hash state) has to be in the bucket.
func TestChunkedUploadHopsBetweenProcesses(t *testing.T) {
	eachS3(t, func(t *testing.T, s *s3Server) {
		c := startCluster(t, s, clusterOptions{})
		base, repo := c.proxy.URL(), "hop/blob"
		var content []byte
		for i, n := range chunkSizes {
			content = append(content, randomBytes(uint64(i+1), n)...)
		}
		d := digest.FromBytes(content)

		loc := startUpload(t, base, repo)
		var off int64
		for _, n := range chunkSizes {
			if got := uploadOffset(t, base, loc); got != off {
				t.Fatalf("upload status after %d bytes says %d", off, got)
			}
			loc = patchChunk(t, base, loc, off, content[off:off+int64(n)])
			off += int64(n)
		}
		finishUpload(t, base, loc, d)

		patches := c.proxy.backendsOf(http.MethodPatch, "/v2/"+repo+"/blobs/uploads/")
		for i := 1; i < len(patches); i++ {
			if patches[i] == patches[i-1] {
				t.Errorf("PATCHes went to registries %v: two in a row on one process", patches)
			}
		}
		if len(distinct(patches)) != len(c.regs) {
			t.Errorf("PATCHes went to registries %v, want all %d", patches, len(c.regs))
		}
		// Every process serves the committed blob.
		for _, r := range c.regs {
			checkBlob(t, r.URL(), repo, d, content)
		}
	})
}

// TestUploadSurvivesKillNine kills registry processes with SIGKILL in the
// middle of one upload, once between chunks and once while a chunk is
// streaming in, and finishes the upload through the survivors.
func TestUploadSurvivesKillNine(t *testing.T) {
	eachS3(t, func(t *testing.T, s *s3Server) {
		c := startCluster(t, s, clusterOptions{})
		a, b, survivor := c.regs[0], c.regs[1], c.regs[2]
		repo := "crash/blob"
		content := randomBytes(99, 19<<20+5)
		d := digest.FromBytes(content)

		// Between chunks: a takes the first chunk and dies.
		loc := startUpload(t, a.URL(), repo)
		first := int64(6 << 20)
		loc = patchChunk(t, a.URL(), loc, 0, content[:first])
		a.kill(t)
		if got := uploadOffset(t, b.URL(), loc); got != first {
			t.Fatalf("after kill -9 between chunks, %s reports %d bytes, want %d", b.name, got, first)
		}

		// During a chunk: b receives part of the second chunk and dies
		// before answering.
		sent := int64(8 << 20)
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() {
			req, _ := http.NewRequest(http.MethodPatch, resolve(t, b.URL(), loc), pr)
			req.Header.Set("Content-Type", "application/octet-stream")
			resp, err := httpClient.Do(req)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				err = fmt.Errorf("the PATCH to the killed process answered %s", resp.Status)
			}
			done <- err
		}()
		if _, err := io.Copy(pw, bytes.NewReader(content[first:first+sent])); err != nil {
			t.Fatalf("streaming to %s: %v", b.name, err)
		}
		b.kill(t)
		pw.CloseWithError(io.ErrUnexpectedEOF)
		if err := <-done; err == nil {
			t.Fatal("the interrupted PATCH succeeded")
		}

		// The survivor knows how far the session got: at least the
		// first chunk, at most what was sent. The client resumes there.
		off := uploadOffset(t, survivor.URL(), loc)
		if off < first || off > first+sent {
			t.Fatalf("after kill -9 mid-chunk, %s reports %d bytes, want %d..%d", survivor.name, off, first, first+sent)
		}
		t.Logf("kill -9 mid-chunk: %d of the %d bytes streamed to %s survived", off-first, sent, b.name)
		loc = patchChunk(t, survivor.URL(), loc, off, content[off:])
		finishUpload(t, survivor.URL(), loc, d)
		checkBlob(t, survivor.URL(), repo, d, content)
	})
}

func distinct(xs []int) []int {
	s := slices.Clone(xs)
	slices.Sort(s)
	return slices.Compact(s)
}
