package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
)

// tokenResponse is what the token server answers.
type tokenResponse struct {
	Token        string `json:"token"`
	RefreshToken string `json:"refresh_token"`
}

// fetchToken asks the token server for scopes with Basic credentials (or
// anonymously when a is nil). It returns the parsed answer and its raw body.
func fetchToken(authURL string, a *account, offline bool, scopes ...string) (tokenResponse, []byte, error) {
	q := url.Values{"service": {service}, "scope": scopes}
	if offline {
		q.Set("offline_token", "true")
		q.Set("client_id", "wharfbench")
	}
	req, _ := http.NewRequest(http.MethodGet, authURL+"/auth?"+q.Encode(), nil)
	if a != nil {
		req.SetBasicAuth(a.name, a.password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return tokenResponse{}, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return tokenResponse{}, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return tokenResponse{}, nil, fmt.Errorf("token request: %s: %s", resp.Status, body)
	}
	var t tokenResponse
	if err := json.Unmarshal(body, &t); err != nil {
		return tokenResponse{}, nil, err
	}
	return t, body, nil
}

// regClient talks to one registry with one bearer token ("" for none).
type regClient struct {
	base  string
	token string
	hc    *http.Client
}

func newRegClient(base, token string, conns int) *regClient {
	return &regClient{base: base, token: token, hc: &http.Client{Transport: newTransport(conns)}}
}

func (c *regClient) do(method, u string, body io.Reader, size int64, hdr map[string]string) (*http.Response, error) {
	if strings.HasPrefix(u, "/") {
		u = c.base + u
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.ContentLength = size
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return c.hc.Do(req)
}

// startUpload opens an upload session and returns its Location.
func (c *regClient) startUpload(repo string) (string, error) {
	resp, err := c.do(http.MethodPost, "/v2/"+repo+"/blobs/uploads/", nil, 0, nil)
	if err := expect(resp, err, http.StatusAccepted); err != nil {
		return "", err
	}
	return resp.Header.Get("Location"), nil
}

// withDigest appends ?digest= (or &digest=) to an upload Location.
func withDigest(loc string, d digest.Digest) string {
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	return loc + sep + "digest=" + url.QueryEscape(d.String())
}

// pushMonolithic pushes data as POST then one PUT with the whole body.
func (c *regClient) pushMonolithic(repo string, data []byte, d digest.Digest) (time.Duration, error) {
	start := time.Now()
	loc, err := c.startUpload(repo)
	if err != nil {
		return 0, err
	}
	resp, err := c.do(http.MethodPut, withDigest(loc, d), bytes.NewReader(data), int64(len(data)),
		map[string]string{"Content-Type": "application/octet-stream"})
	if err := expect(resp, err, http.StatusCreated); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// pushChunked pushes data as POST, PATCHes of chunk bytes with
// Content-Range, then a PUT with no body, as docker and containerd do.
func (c *regClient) pushChunked(repo string, data []byte, d digest.Digest, chunk int) (time.Duration, error) {
	start := time.Now()
	loc, err := c.startUpload(repo)
	if err != nil {
		return 0, err
	}
	for off := 0; off < len(data); off += chunk {
		end := min(off+chunk, len(data))
		resp, err := c.do(http.MethodPatch, loc, bytes.NewReader(data[off:end]), int64(end-off), map[string]string{
			"Content-Type":  "application/octet-stream",
			"Content-Range": fmt.Sprintf("%d-%d", off, end-1),
		})
		if err := expect(resp, err, http.StatusAccepted); err != nil {
			return 0, err
		}
		loc = resp.Header.Get("Location")
	}
	resp, err := c.do(http.MethodPut, withDigest(loc, d), nil, 0, nil)
	if err := expect(resp, err, http.StatusCreated); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// pushStream pushes what r yields, hashing on the way, as one streamed
// PATCH (no length known in advance) and a PUT with the digest.
func (c *regClient) pushStream(repo string, r io.Reader) (digest.Digest, int64, error) {
	loc, err := c.startUpload(repo)
	if err != nil {
		return "", 0, err
	}
	h := sha256.New()
	cr := &countReader{r: io.TeeReader(r, h)}
	resp, err := c.do(http.MethodPatch, loc, cr, -1, map[string]string{"Content-Type": "application/octet-stream"})
	if err := expect(resp, err, http.StatusAccepted); err != nil {
		return "", 0, err
	}
	d := digestOf(h)
	resp, err = c.do(http.MethodPut, withDigest(resp.Header.Get("Location"), d), nil, 0, nil)
	if err := expect(resp, err, http.StatusCreated); err != nil {
		return "", 0, err
	}
	return d, cr.n, nil
}

func digestOf(h hash.Hash) digest.Digest { return digest.NewDigest(digest.SHA256, h) }

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// get fetches u (a path on the registry or an absolute URL) with an
// optional Range, reads the body into nothing with 1 MiB reads and returns
// how many bytes came.
func (c *regClient) get(u, rng string, buf []byte) (int64, error) {
	hdr := map[string]string{}
	want := http.StatusOK
	if rng != "" {
		hdr["Range"] = rng
		want = http.StatusPartialContent
	}
	resp, err := c.do(http.MethodGet, u, nil, 0, hdr)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		return 0, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	var n int64
	for {
		k, err := resp.Body.Read(buf)
		n += int64(k)
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, err
		}
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return n, fmt.Errorf("GET %s: %d of %d bytes", u, n, resp.ContentLength)
	}
	return n, nil
}

// putManifest stores body under repo:tag.
func (c *regClient) putManifest(repo, tag, mediaType string, body []byte) error {
	resp, err := c.do(http.MethodPut, "/v2/"+repo+"/manifests/"+tag, bytes.NewReader(body), int64(len(body)),
		map[string]string{"Content-Type": mediaType})
	return expect(resp, err, http.StatusCreated)
}

// mbps is a rate in MB/s (10^6 bytes per second).
func mbps(bytes int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(bytes) / 1e6 / d.Seconds()
}

func itoa(n int) string { return strconv.Itoa(n) }
