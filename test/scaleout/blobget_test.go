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
// connection of its own, and clients that go away halfway. A recording
// proxy in front of S3 shows which bodies took the registry's own
// connection (a presigned GET) and which the SDK's.
func TestBlobGetsFromS3AreTheBlobsBytes(t *testing.T) {
	eachS3(t, func(t *testing.T, s *s3Server) {
		r := startRecorded(t, s)
		base, repo := r.base, "get/ranges"
		content := randomBytes(77, 3<<20+4321)
		size := len(content)
		d := pushBlob(t, base, repo, content)
		u := base + "/v2/" + repo + "/blobs/" + d.String()
		// spliced checks how many presigned GETs, the streams' own, the
		// registry sent to S3 for what was just asked: one per body of
		// 1 MiB or more, none for smaller ones or several ranges at once.
		spliced := func(what string, want int64) {
			t.Helper()
			if n := r.front.Presigned.Swap(0); n != want {
				t.Fatalf("%s: %d presigned GETs to S3, want %d", what, n, want)
			}
		}
		checkBlob(t, base, repo, d, content)
		spliced("the whole blob", 1)
		for _, rg := range []struct {
			header   string
			from, to int // content[from:to]
		}{
			{"bytes=1048583-", 1048583, size},
			{"bytes=100-2097251", 100, 2097252},
			{"bytes=-1", size - 1, size},
			{"bytes=0-0", 0, 1},
			{fmt.Sprintf("bytes=%d-%d", size-(2<<20), size-1), size - (2 << 20), size},
		} {
			resp, body := do(t, http.MethodGet, u, "", nil, http.Header{"Range": {rg.header}})
			if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, content[rg.from:rg.to]) {
				t.Fatalf("Range %s: %s, %d bytes; want 206 and bytes %d to %d", rg.header, resp.Status, len(body), rg.from, rg.to)
			}
			if want := fmt.Sprintf("bytes %d-%d/%d", rg.from, rg.to-1, size); resp.Header.Get("Content-Range") != want {
				t.Fatalf("Range %s: Content-Range %q, want %q", rg.header, resp.Header.Get("Content-Range"), want)
			}
			want := int64(0)
			if rg.to-rg.from >= 1<<20 {
				want = 1
			}
			spliced("Range "+rg.header, want)
		}
		resp, body := do(t, http.MethodGet, u, "", nil, http.Header{"Range": {"bytes=0-9,2000000-2000009"}})
		if resp.StatusCode != http.StatusPartialContent || !bytes.Contains(body, content[2000000:2000010]) || !bytes.Contains(body, content[:10]) {
			t.Fatalf("two ranges: %s, %d bytes", resp.Status, len(body))
		}
		spliced("two ranges", 0)

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
