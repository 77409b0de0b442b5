package scaleout

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

// The blob upload protocol spoken by hand, so that the test decides where
// each request goes and where the chunks split.
// https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pushing-a-blob-in-chunks

// httpClient has no timeout: a blob transfer takes what it takes.
var httpClient = &http.Client{}

// do sends a request with an optional bearer token and returns the response
// with its body read.
func do(t testing.TB, method, u, token string, body io.Reader, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if b, ok := body.(*bytes.Reader); ok {
		req.ContentLength = int64(b.Len())
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, u, err)
	}
	return resp, data
}

// resolve turns a Location (relative in this registry) into an absolute URL
// on base, the process or proxy the next request goes to.
func resolve(t testing.TB, base, location string) string {
	t.Helper()
	b, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	l, err := url.Parse(location)
	if err != nil {
		t.Fatalf("bad Location %q: %v", location, err)
	}
	// Only the path and query matter: the next request may go elsewhere.
	return b.ResolveReference(&url.URL{Path: l.Path, RawQuery: l.RawQuery}).String()
}

// startUpload opens a session in repo through base and returns its Location.
func startUpload(t testing.TB, base, repo string) string {
	t.Helper()
	resp, body := do(t, http.MethodPost, base+"/v2/"+repo+"/blobs/uploads/", "", nil, nil)
	if resp.StatusCode != http.StatusAccepted || resp.Header.Get("Location") == "" {
		t.Fatalf("POST upload: %s %s", resp.Status, body)
	}
	return resp.Header.Get("Location")
}

// patchChunk sends chunk at offset through base and returns the next
// Location.
func patchChunk(t testing.TB, base, location string, offset int64, chunk []byte) string {
	t.Helper()
	h := http.Header{
		"Content-Type":  {"application/octet-stream"},
		"Content-Range": {fmt.Sprintf("%d-%d", offset, offset+int64(len(chunk))-1)},
	}
	resp, body := do(t, http.MethodPatch, resolve(t, base, location), "", bytes.NewReader(chunk), h)
	want := fmt.Sprintf("0-%d", offset+int64(len(chunk))-1)
	if resp.StatusCode != http.StatusAccepted || resp.Header.Get("Range") != want {
		t.Fatalf("PATCH %d bytes at %d via %s: %s, Range %q (want 202, %q) %s",
			len(chunk), offset, base, resp.Status, resp.Header.Get("Range"), want, body)
	}
	return resp.Header.Get("Location")
}

// uploadOffset asks base how many bytes the session holds.
func uploadOffset(t testing.TB, base, location string) int64 {
	t.Helper()
	resp, body := do(t, http.MethodGet, resolve(t, base, location), "", nil, nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("GET upload status via %s: %s %s", base, resp.Status, body)
	}
	// registry:2 says "0-0" for an empty session too; no session here
	// ever holds exactly one byte.
	r := resp.Header.Get("Range")
	if r == "" || r == "0-0" {
		return 0
	}
	_, end, ok := strings.Cut(r, "-")
	n, err := strconv.ParseInt(end, 10, 64)
	if !ok || err != nil {
		t.Fatalf("upload status Range %q", r)
	}
	return n + 1
}

// finishUpload closes the session with the digest and checks the answer.
func finishUpload(t testing.TB, base, location string, d digest.Digest) {
	t.Helper()
	resp, body := do(t, http.MethodPut, withDigest(resolve(t, base, location), d), "", nil, nil)
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Docker-Content-Digest") != d.String() {
		t.Fatalf("PUT closing the upload via %s: %s, digest %q %s", base, resp.Status, resp.Header.Get("Docker-Content-Digest"), body)
	}
}

// withDigest adds ?digest= to an upload's URL.
func withDigest(loc string, d digest.Digest) string {
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	return loc + sep + "digest=" + url.QueryEscape(d.String())
}

// pushBlob uploads content in one request through base.
func pushBlob(t testing.TB, base, repo string, content []byte) digest.Digest {
	t.Helper()
	d := digest.FromBytes(content)
	resp, body := do(t, http.MethodPost, base+"/v2/"+repo+"/blobs/uploads/?digest="+d.String(), "",
		bytes.NewReader(content), http.Header{"Content-Type": {"application/octet-stream"}})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("monolithic upload of %s via %s: %s %s", d, base, resp.Status, body)
	}
	return d
}

// checkBlob fetches the blob from base and compares it with want.
func checkBlob(t testing.TB, base, repo string, d digest.Digest, want []byte) {
	t.Helper()
	resp, body := do(t, http.MethodGet, base+"/v2/"+repo+"/blobs/"+d.String(), "", nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET blob %s via %s: %s %.200s", d, base, resp.Status, body)
	}
	if !bytes.Equal(body, want) {
		t.Fatalf("GET blob %s via %s: %d bytes (sha256 %x) differ from the %d pushed", d, base, len(body), sha256.Sum256(body), len(want))
	}
}

// randomBytes returns n reproducible pseudo-random bytes.
func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n - n%8; i < n; i++ {
		b[i] = byte(r.Uint64())
	}
	return b
}
