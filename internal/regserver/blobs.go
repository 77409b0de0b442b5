package regserver

import (
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/pkg/reference"
	"github.com/wharf-registry/wharf/pkg/storage"
)

// parseDigest validates a digest from a URL or query: 400 DIGEST_INVALID
// for anything but lowercase sha256 or sha512.
func parseDigest(s string) (digest.Digest, error) {
	d, err := reference.ParseDigest(s)
	if err != nil {
		return "", &Error{Status: http.StatusBadRequest, Code: codeDigestInvalid,
			Message: "invalid or unsupported digest (sha256 and sha512 in lowercase hex are supported)", Err: err}
	}
	return d, nil
}

// setBlobHeaders sets what every successful blob response carries. Blobs
// are content-addressed, so caches may keep them for good.
func setBlobHeaders(w http.ResponseWriter, desc storage.Descriptor) {
	h := w.Header()
	h.Set("Docker-Content-Digest", desc.Digest.String())
	h.Set("Etag", `"`+desc.Digest.String()+`"`)
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Cache-Control", "max-age=31536000")
}

// getBlob answers GET and HEAD of a blob, with Range support. The body is
// served by http.ServeContent (Range, multiple ranges, If-None-Match on the
// digest ETag) copied through a pooled 256 KiB buffer, or a GET is
// redirected (307) to the storage when it offers URLs.
// https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pulling-blobs
func (s *Server) getBlob(w http.ResponseWriter, r *http.Request) error {
	rt := apiRequestFrom(r.Context()).route
	d, err := parseDigest(rt.ref)
	if err != nil {
		return err
	}
	if served, err := s.proxyBlob(w, r, rt.name, d); served || err != nil {
		return err
	}
	if r.Method == http.MethodHead {
		desc, err := s.store.StatBlob(r.Context(), rt.name, d)
		if err != nil {
			return err
		}
		setBlobHeaders(w, desc)
		w.Header().Set("Accept-Ranges", "bytes")
		w.Header().Set("Content-Length", itoa64(desc.Size))
		w.WriteHeader(http.StatusOK)
		return nil
	}
	// With storage.redirect on S3, the client fetches the bytes from the
	// bucket through a presigned URL, as from registry:2; HEAD stays here.
	url, err := s.store.BlobURL(r.Context(), rt.name, d)
	if err != nil {
		return err
	}
	if url != "" {
		w.Header().Set("Docker-Content-Digest", d.String())
		http.Redirect(w, r, url, http.StatusTemporaryRedirect)
		return nil
	}
	f, desc, err := s.store.OpenBlob(r.Context(), rt.name, d)
	if err != nil {
		return err
	}
	defer f.Close()
	setBlobHeaders(w, desc)
	// Over plain HTTP/1 the connection is a bare TCP socket, which a
	// storage.Splicer source can hand its own socket to (splice(2)).
	g := &rangeGuard{ResponseWriter: w, splice: r.TLS == nil && r.ProtoMajor == 1}
	// Only Read and Seek: the *os.File's WriteTo would hand the copy to
	// sendfile, which moves fewer bytes per second to a loopback client
	// than a user-space copy on the machines measured (BENCHMARKS.md, row 2).
	var body io.ReadSeeker = struct{ io.ReadSeeker }{f}
	if sp, ok := f.(storage.Splicer); ok {
		body = splicingBody{f, sp}
	}
	http.ServeContent(g, r, "", time.Time{}, body)
	if g.unsatisfiable {
		return errorf(http.StatusRequestedRangeNotSatisfiable, codeSizeInvalid,
			"requested range not satisfiable: the blob has %d bytes", desc.Size).
			withHeader("Content-Range", "bytes */"+itoa64(desc.Size))
	}
	return nil
}

// rangeGuard keeps http.ServeContent's plain-text 416 from reaching the
// client, so a Range the blob cannot satisfy gets an OCI JSON error like
// every other bad input. Its ReadFrom copies the body through a pooled
// buffer with Write, so the connection's ReadFrom (sendfile, or a 32 KiB
// loop for other readers) is never reached.
type rangeGuard struct {
	http.ResponseWriter
	unsatisfiable bool
	splice        bool // the connection is plain TCP
}

// splicingBody is a blob reader that can splice (storage.Splicer), with
// nothing else of the reader's visible to http.ServeContent.
type splicingBody struct {
	io.ReadSeeker
	storage.Splicer
}

// WriteHeader withholds a 416; getBlob renders it.
func (g *rangeGuard) WriteHeader(code int) {
	if code == http.StatusRequestedRangeNotSatisfiable {
		g.unsatisfiable = true
		return
	}
	g.ResponseWriter.WriteHeader(code)
}

// Write drops the body of a withheld 416.
func (g *rangeGuard) Write(p []byte) (int, error) {
	if g.unsatisfiable {
		return len(p), nil
	}
	return g.ResponseWriter.Write(p)
}

// blobCopySize is the piece a blob body is read and written in: large
// enough that a syscall moves a quarter of a MiB, small enough to pool.
const blobCopySize = 256 << 10

var blobCopyBufs = sync.Pool{New: func() any {
	b := make([]byte, blobCopySize)
	return &b
}}

// ReadFrom is what http.ServeContent's io.CopyN finds: it copies src (the
// blob, or the bounded part a Range asks for) in blobCopySize pieces, or,
// over plain TCP from a storage that can (S3 over HTTP), splices it from
// the storage's connection into the client's.
func (g *rangeGuard) ReadFrom(src io.Reader) (int64, error) {
	if lr, ok := src.(*io.LimitedReader); ok && g.splice && !g.unsatisfiable {
		sb, isBody := lr.R.(splicingBody)
		dst, isDst := g.ResponseWriter.(storage.SpliceDst)
		if isBody && isDst {
			n, err := sb.SpliceTo(dst, lr.N)
			lr.N -= n
			if !errors.Is(err, storage.ErrCannotSplice) {
				return n, err
			}
		}
	}
	buf := blobCopyBufs.Get().(*[]byte)
	defer blobCopyBufs.Put(buf)
	return io.CopyBuffer(writerOnly{g}, src, *buf)
}

// deleteBlob unlinks a blob from the repository; garbage collection frees
// the space once nothing else links it.
// https://github.com/opencontainers/distribution-spec/blob/main/spec.md#deleting-blobs
func (s *Server) deleteBlob(w http.ResponseWriter, r *http.Request) error {
	if !s.deleteEnabled {
		return errDeleteDisabled()
	}
	rt := apiRequestFrom(r.Context()).route
	d, err := parseDigest(rt.ref)
	if err != nil {
		return err
	}
	if err := s.store.DeleteBlob(r.Context(), rt.name, d); err != nil {
		return err
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
	return nil
}

func errDeleteDisabled() *Error {
	return errorf(http.StatusMethodNotAllowed, codeUnsupported, "deletes are disabled (storage.delete.enabled)")
}
