package regserver

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
)

// bigBlob is larger than several copy buffers and ends mid-buffer, so
// every boundary of the copy is crossed.
func bigBlob() []byte {
	b := make([]byte, 3*blobCopySize+12345)
	r := rand.NewChaCha8([32]byte{7})
	_, _ = r.Read(b)
	return b
}

// TestBlobBodiesLargerThanTheCopyBuffer pulls a blob of several copy
// buffers whole, as single and multiple Ranges, with HEAD and with
// If-None-Match, over plain HTTP and TLS: the bytes, statuses and headers
// a client relies on.
func TestBlobBodiesLargerThanTheCopyBuffer(t *testing.T) {
	tr := newRegistry(t, nil)
	data := bigBlob()
	d := tr.pushBlob(t, "app", data)
	size := int64(len(data))
	tlsServer := httptest.NewTLSServer(tr.srv.Handler())
	t.Cleanup(tlsServer.Close)
	for _, server := range []struct {
		name   string
		base   string
		client *http.Client
	}{
		{"http", tr.URL, http.DefaultClient},
		{"https", tlsServer.URL, tlsServer.Client()},
	} {
		get := func(t *testing.T, method string, header map[string]string) (*http.Response, []byte) {
			t.Helper()
			return tr.do(t, request{method: method, path: server.base + "/v2/app/blobs/" + d.String(), header: header, client: server.client})
		}
		t.Run(server.name, func(t *testing.T) {
			t.Run("whole blob", func(t *testing.T) {
				resp, body := get(t, http.MethodGet, nil)
				if resp.StatusCode != http.StatusOK || !bytes.Equal(body, data) {
					t.Fatalf("status %d, %d bytes (equal: %v), want 200 and the %d bytes pushed", resp.StatusCode, len(body), bytes.Equal(body, data), size)
				}
				if resp.ContentLength != size || resp.Header.Get("Docker-Content-Digest") != d.String() || resp.Header.Get("Etag") != `"`+d.String()+`"` {
					t.Errorf("Content-Length %d, digest %q, Etag %q", resp.ContentLength, resp.Header.Get("Docker-Content-Digest"), resp.Header.Get("Etag"))
				}
			})
			ranges := []struct{ first, last int64 }{
				{0, 0},
				{blobCopySize - 1, blobCopySize},          // across the first boundary
				{100000, 2*blobCopySize + 100000},         // several buffers
				{size - 1, size - 1},                      // the last byte
				{blobCopySize, 2*blobCopySize - 1},        // exactly one buffer
				{3 * blobCopySize, size - 1},              // the short tail
				{5, 3*blobCopySize + 7},                   // across all of them
				{2*blobCopySize + 1, 2*blobCopySize + 99}, // inside one
			}
			for _, rg := range ranges {
				t.Run(fmt.Sprintf("Range %d-%d", rg.first, rg.last), func(t *testing.T) {
					resp, body := get(t, http.MethodGet, map[string]string{"Range": fmt.Sprintf("bytes=%d-%d", rg.first, rg.last)})
					if resp.StatusCode != http.StatusPartialContent {
						t.Fatalf("status %d, want 206", resp.StatusCode)
					}
					if !bytes.Equal(body, data[rg.first:rg.last+1]) {
						t.Errorf("%d bytes, not the %d asked for", len(body), rg.last-rg.first+1)
					}
					if want := fmt.Sprintf("bytes %d-%d/%d", rg.first, rg.last, size); resp.Header.Get("Content-Range") != want {
						t.Errorf("Content-Range %q, want %q", resp.Header.Get("Content-Range"), want)
					}
				})
			}
			t.Run("suffix Range", func(t *testing.T) {
				resp, body := get(t, http.MethodGet, map[string]string{"Range": "bytes=-300000"})
				if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, data[size-300000:]) {
					t.Errorf("status %d, %d bytes, want 206 and the last 300000", resp.StatusCode, len(body))
				}
			})
			t.Run("two ranges", func(t *testing.T) {
				a, b := [2]int64{10, 19}, [2]int64{blobCopySize + 5, 2*blobCopySize + 5}
				resp, body := get(t, http.MethodGet, map[string]string{"Range": fmt.Sprintf("bytes=%d-%d,%d-%d", a[0], a[1], b[0], b[1])})
				mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
				if resp.StatusCode != http.StatusPartialContent || err != nil || mt != "multipart/byteranges" {
					t.Fatalf("status %d, Content-Type %q (%v), want 206 multipart/byteranges", resp.StatusCode, resp.Header.Get("Content-Type"), err)
				}
				mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
				for _, want := range [][2]int64{a, b} {
					part, err := mr.NextPart()
					if err != nil {
						t.Fatal(err)
					}
					got, _ := io.ReadAll(part)
					if !bytes.Equal(got, data[want[0]:want[1]+1]) || part.Header.Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%d", want[0], want[1], size) {
						t.Errorf("part %s: %d bytes, want bytes %d-%d", part.Header.Get("Content-Range"), len(got), want[0], want[1])
					}
				}
				if _, err := mr.NextPart(); err != io.EOF {
					t.Errorf("a third part: %v", err)
				}
			})
			t.Run("HEAD", func(t *testing.T) {
				resp, body := get(t, http.MethodHead, nil)
				if resp.StatusCode != http.StatusOK || len(body) != 0 || resp.Header.Get("Content-Length") != strconv.FormatInt(size, 10) || resp.Header.Get("Accept-Ranges") != "bytes" {
					t.Errorf("status %d, %d body bytes, Content-Length %q, Accept-Ranges %q", resp.StatusCode, len(body), resp.Header.Get("Content-Length"), resp.Header.Get("Accept-Ranges"))
				}
			})
			t.Run("If-None-Match", func(t *testing.T) {
				resp, body := get(t, http.MethodGet, map[string]string{"If-None-Match": `"` + d.String() + `"`})
				if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
					t.Errorf("the digest's ETag: status %d with %d bytes, want 304 and none", resp.StatusCode, len(body))
				}
				resp, body = get(t, http.MethodGet, map[string]string{"If-None-Match": `"sha256:other"`})
				if resp.StatusCode != http.StatusOK || !bytes.Equal(body, data) {
					t.Errorf("another ETag: status %d with %d bytes, want 200 and the blob", resp.StatusCode, len(body))
				}
			})
		})
	}
}

// writeProbe sits between the HTTP server and the registry's handler and
// records how the body reaches the connection.
type writeProbe struct {
	http.ResponseWriter
	mu       sync.Mutex
	readFrom bool
	writes   int
	largest  int
}

func (p *writeProbe) Write(b []byte) (int, error) {
	p.mu.Lock()
	p.writes++
	p.largest = max(p.largest, len(b))
	p.mu.Unlock()
	return p.ResponseWriter.Write(b)
}

// ReadFrom is the connection's path to sendfile; the probe notes its use.
func (p *writeProbe) ReadFrom(src io.Reader) (int64, error) {
	p.mu.Lock()
	p.readFrom = true
	p.mu.Unlock()
	return p.ResponseWriter.(io.ReaderFrom).ReadFrom(src)
}

// TestBlobBodyIsCopiedThroughUserSpace checks the path the bytes take: a
// GET copies the blob in buffer-sized writes and never hands the file to
// the connection's ReadFrom, which would send it with sendfile (slower to
// loopback clients on the machines measured; BENCHMARKS.md row 2).
func TestBlobBodyIsCopiedThroughUserSpace(t *testing.T) {
	tr := newRegistry(t, nil)
	data := bigBlob()
	d := tr.pushBlob(t, "app", data)
	for _, rng := range []string{"", fmt.Sprintf("bytes=1-%d", len(data)-2)} {
		t.Run("Range "+rng, func(t *testing.T) {
			var probe *writeProbe
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				probe = &writeProbe{ResponseWriter: w}
				tr.srv.Handler().ServeHTTP(probe, r)
			}))
			defer ts.Close()
			req, _ := http.NewRequest(http.MethodGet, ts.URL+"/v2/app/blobs/"+d.String(), nil)
			if rng != "" {
				req.Header.Set("Range", rng)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode/100 != 2 || len(body) < len(data)-2 {
				t.Fatalf("status %d, %d bytes", resp.StatusCode, len(body))
			}
			probe.mu.Lock()
			defer probe.mu.Unlock()
			if probe.readFrom {
				t.Errorf("the body went through the connection's ReadFrom (sendfile), want buffered writes")
			}
			if probe.largest != blobCopySize || probe.writes < len(data)/blobCopySize {
				t.Errorf("%d writes, the largest %d bytes; want writes of %d bytes", probe.writes, probe.largest, blobCopySize)
			}
		})
	}
}
