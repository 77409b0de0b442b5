package scaleout

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"testing"
)

// A blob GET through a registry on S3 serves exactly the blob's bytes, over
// plain HTTP where the body is spliced from the registry's own connection
// to S3 (pkg/storage/s3/stream.go): the whole blob, ranges from every
// kind of offset, several ranges at once, a range too small to be worth a
// connection of its own, and clients that go away halfway.
func TestBlobGetsFromS3AreTheBlobsBytes(t *testing.T) {
	eachS3(t, func(t *testing.T, s *s3Server) {
		c := startCluster(t, s, clusterOptions{replicas: 1})
		base, repo := c.regs[0].URL(), "get/ranges"
		content := randomBytes(77, 3<<20+4321)
		size := len(content)
		d := pushBlob(t, base, repo, content)
		u := base + "/v2/" + repo + "/blobs/" + d.String()
		checkBlob(t, base, repo, d, content)
		for _, r := range []struct {
			header   string
			from, to int // content[from:to]
		}{
			{"bytes=1048583-", 1048583, size},
			{"bytes=100-2097251", 100, 2097252},
			{"bytes=-1", size - 1, size},
			{"bytes=0-0", 0, 1},
			{fmt.Sprintf("bytes=%d-%d", size-(2<<20), size-1), size - (2 << 20), size},
		} {
			resp, body := do(t, http.MethodGet, u, "", nil, http.Header{"Range": {r.header}})
			if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, content[r.from:r.to]) {
				t.Fatalf("Range %s: %s, %d bytes; want 206 and bytes %d to %d", r.header, resp.Status, len(body), r.from, r.to)
			}
			if want := fmt.Sprintf("bytes %d-%d/%d", r.from, r.to-1, size); resp.Header.Get("Content-Range") != want {
				t.Fatalf("Range %s: Content-Range %q, want %q", r.header, resp.Header.Get("Content-Range"), want)
			}
		}
		resp, body := do(t, http.MethodGet, u, "", nil, http.Header{"Range": {"bytes=0-9,2000000-2000009"}})
		if resp.StatusCode != http.StatusPartialContent || !bytes.Contains(body, content[2000000:2000010]) || !bytes.Contains(body, content[:10]) {
			t.Fatalf("two ranges: %s, %d bytes", resp.Status, len(body))
		}

		// Clients that go away halfway end their splice; the registry goes
		// on serving (stream_test.go shows the S3 connection is closed).
		for range 20 {
			resp, err := httpClient.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.CopyN(io.Discard, resp.Body, 1<<20); err != nil {
				t.Fatal(err)
			}
			resp.Body.Close() // the rest unread: the connection is dropped
		}
		checkBlob(t, base, repo, d, content)
	})
}
