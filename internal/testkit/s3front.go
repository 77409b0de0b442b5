package testkit

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// S3Front is a reverse proxy in front of an S3 server that counts the
// requests a driver sends (parts, copies, checksummed puts), records how
// many part uploads and how many part copies run at once, and answers 500
// InternalError, every time (so the SDK's retries fail too), to the
// operation named with FailOn. Give its URL to a driver or a registry as
// the S3 endpoint.
type S3Front struct {
	*httptest.Server

	UploadParts  atomic.Int64 // UploadPart requests
	MaxParts     atomic.Int64 // UploadPart requests at once, at most
	Copies       atomic.Int64 // CopyObject and UploadPartCopy requests
	PartCopies   atomic.Int64 // UploadPartCopy requests
	MaxCopies    atomic.Int64 // UploadPartCopy requests at once, at most
	ChecksumPuts atomic.Int64 // PutObject with x-amz-checksum-sha256
	Faults       atomic.Int64 // requests answered with the injected error
	// Presigned counts presigned GETs (a stream's own requests) begun,
	// PresignedDone those answered or cut off; RefusePresigned answers
	// them 403, as a server taking no presigned requests would.
	Presigned, PresignedDone atomic.Int64
	RefusePresigned          atomic.Bool

	mu            sync.Mutex
	failOp        string
	ignoreSuffix  string
	parts, copies atomic.Int64 // in flight
}

// NewS3Front starts a front for the S3 server at endpoint; it stops when
// the test ends.
func NewS3Front(t testing.TB, endpoint string) *S3Front {
	t.Helper()
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	f := &S3Front{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Query().Has("X-Amz-Signature") {
			f.Presigned.Add(1)
			defer f.PresignedDone.Add(1)
			if f.RefusePresigned.Load() {
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(http.StatusForbidden)
				w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>no presigned requests here</Message></Error>`))
				return
			}
		}
		op := s3Operation(r)
		switch op {
		case "UploadPart":
			op += ":" + r.URL.Query().Get("partNumber")
			f.UploadParts.Add(1)
			defer f.overlap(&f.parts, &f.MaxParts)()
		case "UploadPartCopy":
			op += ":" + r.URL.Query().Get("partNumber")
			f.PartCopies.Add(1)
			defer f.overlap(&f.copies, &f.MaxCopies)()
		}
		if r.Header.Get("X-Amz-Copy-Source") != "" {
			f.Copies.Add(1)
		}
		f.mu.Lock()
		fail, ignore := f.failOp, f.ignoreSuffix
		f.mu.Unlock()
		if r.Method == http.MethodPut && r.Header.Get("X-Amz-Checksum-Sha256") != "" {
			f.ChecksumPuts.Add(1)
			if ignore != "" && strings.HasSuffix(r.URL.Path, ignore) {
				io.Copy(io.Discard, r.Body)
				w.Header().Set("ETag", `"0123456789abcdef0123456789abcdef"`)
				return
			}
		}
		if fail != "" && fail == op {
			io.Copy(io.Discard, r.Body)
			f.Faults.Add(1)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>injected</Message></Error>`))
			return
		}
		rp.ServeHTTP(w, r) // the Host header stays the proxy's, which the client signed
	}))
	t.Cleanup(func() {
		f.CloseClientConnections() // a stream left open must not block Close
		f.Close()
	})
	return f
}

// s3Operation names the SDK operation of r. The SDK marks most requests
// with it (?x-id=UploadPart); UploadPartCopy is a PUT with a part number
// and a copy source, CompleteMultipartUpload a POST with an upload id.
func s3Operation(r *http.Request) string {
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodPost && q.Has("uploadId"):
		return "CompleteMultipartUpload"
	case r.Method == http.MethodPut && q.Has("partNumber") && r.Header.Get("X-Amz-Copy-Source") != "":
		return "UploadPartCopy"
	}
	return q.Get("x-id")
}

// overlap counts a request in flight and raises max to the count; the
// returned function ends it. It holds the request a little, so requests
// sent together overlap here even on a busy machine (tests assert no
// timing).
func (f *S3Front) overlap(active, max *atomic.Int64) func() {
	n := active.Add(1)
	for m := max.Load(); n > m && !max.CompareAndSwap(m, n); m = max.Load() {
	}
	time.Sleep(20 * time.Millisecond)
	return func() { active.Add(-1) }
}

// FailOn makes every request of operation op fail with a 500: an SDK
// operation ("CompleteMultipartUpload"), or "UploadPart:N" and
// "UploadPartCopy:N" for part N. "" fails nothing.
func (f *S3Front) FailOn(op string) {
	f.mu.Lock()
	f.failOp = op
	f.mu.Unlock()
}

// IgnoreChecksumsAt answers a checksummed PutObject to a key ending in
// suffix 200 itself, as a server that ignores x-amz-checksum-sha256 would
// ("" forwards them all).
func (f *S3Front) IgnoreChecksumsAt(suffix string) {
	f.mu.Lock()
	f.ignoreSuffix = suffix
	f.mu.Unlock()
}
