package s3

import (
	"context"
	"crypto/sha256"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/opencontainers/go-digest"
)

// s3Front is a reverse proxy in front of an S3 server that records how many
// UploadPart requests run at once and answers 500 InternalError, every time
// (so the SDK's retries fail too), to the operation named by failOp: an
// SDK operation ("CompleteMultipartUpload"), or "UploadPart:N" for part N.
type s3Front struct {
	*httptest.Server
	failOp              atomic.Value // string
	active, maxActive   atomic.Int64
	faults, uploadParts atomic.Int64
	copies              atomic.Int64 // CopyObject and UploadPartCopy
	checksumPuts        atomic.Int64 // PutObject with x-amz-checksum-sha256, the probe's too
	// ignoreChecksums answers the checksum probe's PutObject 200 itself,
	// as a server that ignores x-amz-checksum-sha256 would.
	ignoreChecksums atomic.Bool
}

func newS3Front(t *testing.T, s *server) *s3Front {
	t.Helper()
	u, err := url.Parse(s.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	f := &s3Front{}
	f.failOp.Store("")
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The SDK marks each request with its operation (?x-id=UploadPart).
		op := r.URL.Query().Get("x-id")
		if r.Method == http.MethodPost && r.URL.Query().Has("uploadId") {
			op = "CompleteMultipartUpload" // the SDK adds no x-id to this one
		}
		if op == "UploadPart" {
			op += ":" + r.URL.Query().Get("partNumber")
			f.uploadParts.Add(1)
			n := f.active.Add(1)
			defer f.active.Add(-1)
			for m := f.maxActive.Load(); n > m && !f.maxActive.CompareAndSwap(m, n); m = f.maxActive.Load() {
			}
			// Slow enough that parts sent together overlap here even on
			// a busy machine; the test asserts no timing.
			time.Sleep(20 * time.Millisecond)
		}
		if r.Header.Get("X-Amz-Copy-Source") != "" {
			f.copies.Add(1)
		}
		if r.Method == http.MethodPut && r.Header.Get("X-Amz-Checksum-Sha256") != "" {
			f.checksumPuts.Add(1)
			if f.ignoreChecksums.Load() && strings.HasSuffix(r.URL.Path, checksumProbePath) {
				io.Copy(io.Discard, r.Body)
				w.Header().Set("ETag", `"0123456789abcdef0123456789abcdef"`)
				return
			}
		}
		if fail := f.failOp.Load().(string); fail != "" && fail == op {
			io.Copy(io.Discard, r.Body)
			f.faults.Add(1)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>injected</Message></Error>`))
			return
		}
		rp.ServeHTTP(w, r) // the Host header stays the proxy's, which the client signed
	}))
	t.Cleanup(f.Close)
	return f
}

// driverVia returns a driver for s that talks to it through f.
func driverVia(t *testing.T, s *server, f *s3Front) *Driver {
	cfg := s.config(t)
	cfg.RegionEndpoint = f.URL
	return s.newDriver(t, cfg)
}

// storedDigest reads key straight from the server and digests it; found is
// false when there is no such object.
func storedDigest(t *testing.T, s *server, d *Driver, p string) (digest.Digest, bool) {
	t.Helper()
	key, _ := d.key(p)
	out, err := s.client().GetObject(context.Background(), &s3sdk.GetObjectInput{Bucket: aws.String(testBucket), Key: &key})
	if isNotFound(err) {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	h := sha256.New()
	if _, err := io.Copy(h, out.Body); err != nil {
		t.Fatal(err)
	}
	return digest.NewDigestFromBytes(digest.SHA256, h.Sum(nil)), true
}

// A writer keeps several parts uploading at once, and the file assembled
// from them is the bytes written, in order.
func TestWriterUploadsSeveralPartsAtOnce(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		f := newS3Front(t, s)
		d := driverVia(t, s, f)
		content := randomBytes(21, 11*MinChunkSize+12345) // 12 parts, each different
		appendTo(t, d, "/parallel", 0, content, 1<<20, true)
		if got := f.maxActive.Load(); got < 2 {
			t.Fatalf("at most %d part upload(s) at once, want several", got)
		}
		if got := f.maxActive.Load(); got > partsInFlight {
			t.Fatalf("%d part uploads at once, more than partsInFlight (%d)", got, partsInFlight)
		}
		rc, err := d.Reader(context.Background(), "/parallel", 0) // completes the upload
		if err != nil {
			t.Fatal(err)
		}
		rc.Close()
		if got, ok := storedDigest(t, s, d, "/parallel"); !ok || got != sha256Of(content) {
			t.Fatalf("stored object %s (exists %v), want %s", got, ok, sha256Of(content))
		}
		if d.budget.used != 0 {
			t.Fatalf("%d bytes of the part budget not given back", d.budget.used)
		}
	})
}
