package regserver

import (
	"errors"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/pkg/reference"
	"github.com/wharf-registry/wharf/pkg/storage"
)

// maxMountAttempts bounds the repositories tried for a mount without
// `from`, so a token with many grants cannot make one request expensive.
const maxMountAttempts = 16

// startUpload answers POST /v2/<name>/blobs/uploads/: a cross-repository
// mount (?mount=&from=), a single-request upload (?digest=) or a new
// session (202).
// https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pushing-blobs
func (s *Server) startUpload(w http.ResponseWriter, r *http.Request) error {
	req := apiRequestFrom(r.Context())
	name := req.route.name
	q := r.URL.Query()
	if mount := q.Get("mount"); mount != "" {
		d, err := parseDigest(mount)
		if err != nil {
			return err
		}
		desc, ok, err := s.mount(r, req, d, q.Get("from"))
		if err != nil {
			return err
		}
		if ok {
			return s.blobCreated(w, name, desc)
		}
		// Not mountable: an ordinary session, as the spec asks.
	} else if dg := q.Get("digest"); dg != "" {
		d, err := parseDigest(dg)
		if err != nil {
			return err
		}
		started := time.Now()
		desc, err := s.store.PutBlob(r.Context(), name, d, r.Body, r.ContentLength)
		if err != nil {
			return err
		}
		s.metrics.uploadDuration.Observe(time.Since(started).Seconds())
		return s.blobCreated(w, name, desc)
	}
	u, err := s.store.NewUpload(r.Context(), name)
	if err != nil {
		return err
	}
	s.uploadHeaders(w, name, u.ID(), 0)
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// mount links blob d into the request's repository from another one the
// caller may pull. Without `from`, it succeeds when the blob is already in
// the repository or, with a token, in a repository the token lets the
// caller pull. A caller who may not pull `from` gets no mount and no hint
// whether the blob exists there.
func (s *Server) mount(r *http.Request, req *apiRequest, d digest.Digest, from string) (storage.Descriptor, bool, error) {
	ctx, name := r.Context(), req.route.name
	if from != "" {
		if !reference.ValidRepository(from) {
			return storage.Descriptor{}, false, errorf(http.StatusBadRequest, codeNameInvalid, "invalid repository name in from")
		}
		if !req.id.can("repository", from, "pull") {
			return storage.Descriptor{}, false, nil
		}
		desc, err := s.store.MountBlob(ctx, from, name, d)
		return mountResult(desc, err)
	}
	if desc, err := s.store.StatBlob(ctx, name, d); err == nil {
		return desc, true, nil
	}
	if req.id.claims == nil {
		return storage.Descriptor{}, false, nil
	}
	tried := 0
	for _, ra := range req.id.claims.Access {
		if ra.Type != "repository" || ra.Name == name || !reference.ValidRepository(ra.Name) || !req.id.can(ra.Type, ra.Name, "pull") {
			continue
		}
		if tried++; tried > maxMountAttempts {
			break
		}
		if desc, ok, err := mountResult(s.store.MountBlob(ctx, ra.Name, name, d)); ok || err != nil {
			return desc, ok, err
		}
	}
	return storage.Descriptor{}, false, nil
}

// mountResult turns "not there" into a fallback rather than an error.
func mountResult(desc storage.Descriptor, err error) (storage.Descriptor, bool, error) {
	switch {
	case err == nil:
		return desc, true, nil
	case errors.Is(err, storage.ErrBlobUnknown), errors.Is(err, storage.ErrNameUnknown):
		return storage.Descriptor{}, false, nil
	}
	return storage.Descriptor{}, false, err
}

// blobCreated answers 201 for a blob now in the repository.
func (s *Server) blobCreated(w http.ResponseWriter, name string, desc storage.Descriptor) error {
	h := w.Header()
	h.Set("Location", s.url("/v2/"+name+"/blobs/"+desc.Digest.String()))
	h.Set("Docker-Content-Digest", desc.Digest.String())
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

// uploadHeaders sets Location, Range and Docker-Upload-UUID for a session.
// Range is "0-<last byte>", and "0-0" for an empty session, as registry:2
// sends and clients expect.
func (s *Server) uploadHeaders(w http.ResponseWriter, name, id string, size int64) {
	h := w.Header()
	h.Set("Location", s.url("/v2/"+name+"/blobs/uploads/"+id))
	h.Set("Range", uploadRange(size))
	h.Set("Docker-Upload-Uuid", id)
	h.Set("Content-Length", "0")
}

func uploadRange(size int64) string {
	return "0-" + strconv.FormatInt(max(size-1, 0), 10)
}

// uploadStatus answers GET of a session with how much it holds.
// https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pushing-a-blob-in-chunks
func (s *Server) uploadStatus(w http.ResponseWriter, r *http.Request) error {
	rt := apiRequestFrom(r.Context()).route
	u, err := s.store.Upload(r.Context(), rt.name, rt.ref)
	if err != nil {
		return err
	}
	s.uploadHeaders(w, rt.name, u.ID(), u.Size())
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// patchUpload appends a chunk: with Content-Range it must start where the
// session ends (else 416), without it the body is streamed onto the end.
// The Content-Type is ignored: clients send all sorts.
func (s *Server) patchUpload(w http.ResponseWriter, r *http.Request) error {
	rt := apiRequestFrom(r.Context()).route
	u, err := s.store.Upload(r.Context(), rt.name, rt.ref)
	if err != nil {
		return err
	}
	size, err := s.appendChunk(r, rt.name, u)
	if err != nil {
		return err
	}
	s.uploadHeaders(w, rt.name, u.ID(), size)
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// finishUpload answers PUT ?digest=: append the optional last chunk, verify
// everything against the digest and make the blob visible.
func (s *Server) finishUpload(w http.ResponseWriter, r *http.Request) error {
	rt := apiRequestFrom(r.Context()).route
	dg := r.URL.Query().Get("digest")
	if dg == "" {
		return errorf(http.StatusBadRequest, codeDigestInvalid, "the digest query parameter is required to finish an upload")
	}
	d, err := parseDigest(dg)
	if err != nil {
		return err
	}
	u, err := s.store.Upload(r.Context(), rt.name, rt.ref)
	if err != nil {
		return err
	}
	var desc storage.Descriptor
	switch {
	case r.ContentLength != 0 && u.Size() == 0 && s.store.PlacesBlobs():
		// The whole blob in the PUT after an empty POST (containerd's
		// way): straight to its key as with POST ?digest=, not into the
		// session and then copied (S3).
		desc, err = s.putWhole(r, rt.name, u, d)
	case r.ContentLength != 0:
		if _, err = s.appendChunk(r, rt.name, u); err == nil {
			desc, err = u.Commit(r.Context(), d)
		}
	default:
		desc, err = u.Commit(r.Context(), d)
	}
	if err != nil {
		return err
	}
	s.metrics.uploadDuration.Observe(time.Since(u.StartedAt()).Seconds())
	return s.blobCreated(w, rt.name, desc)
}

// cancelUpload answers DELETE of a session.
func (s *Server) cancelUpload(w http.ResponseWriter, r *http.Request) error {
	rt := apiRequestFrom(r.Context()).route
	u, err := s.store.Upload(r.Context(), rt.name, rt.ref)
	if err != nil {
		return err
	}
	if err := u.Cancel(r.Context()); err != nil {
		return err
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// appendChunk checks Content-Range and Content-Length against the session
// and appends the body, returning the session's new size.
func (s *Server) appendChunk(r *http.Request, name string, u *storage.Upload) (int64, error) {
	start := u.Size()
	body, _, err := s.chunkBody(r, name, u)
	if err != nil {
		return 0, err
	}
	size, err := u.Append(r.Context(), start, body)
	if err != nil {
		return 0, s.chunkError(name, u, size, err)
	}
	return size, nil
}

// putWhole finishes an empty session with the PUT's body, the whole blob,
// under the same Content-Range and Content-Length rules as appendChunk and
// with the same answers to a body that fails.
func (s *Server) putWhole(r *http.Request, name string, u *storage.Upload, d digest.Digest) (storage.Descriptor, error) {
	body, length, err := s.chunkBody(r, name, u)
	if err != nil {
		return storage.Descriptor{}, err
	}
	desc, err := u.PutWhole(r.Context(), body, length, d)
	if err != nil {
		return storage.Descriptor{}, s.chunkError(name, u, u.Size(), err)
	}
	return desc, nil
}

// chunkBody checks Content-Range and Content-Length against the session
// and returns the chunk to read and its length (-1 when unknown).
func (s *Server) chunkBody(r *http.Request, name string, u *storage.Upload) (io.Reader, int64, error) {
	start := u.Size()
	cr := r.Header.Get("Content-Range")
	if cr == "" {
		return r.Body, r.ContentLength, nil
	}
	first, last, ok := parseContentRange(cr)
	if !ok {
		return nil, 0, errorf(http.StatusBadRequest, codeBlobUploadInvalid, "malformed Content-Range %q (want <start>-<end>)", cr)
	}
	if first != start {
		return nil, 0, s.rangeError(name, u.ID(), start)
	}
	length := last - first + 1
	if r.ContentLength >= 0 && r.ContentLength != length {
		return nil, 0, errorf(http.StatusBadRequest, codeSizeInvalid, "Content-Length %d does not match Content-Range %q", r.ContentLength, cr)
	}
	return &exactReader{r: r.Body, n: length}, length, nil
}

// chunkError turns a chunk's failure into what the client needs to resume:
// where the session ends (size) for a chunk out of place or cut short.
func (s *Server) chunkError(name string, u *storage.Upload, size int64, err error) error {
	switch {
	case errors.Is(err, storage.ErrRangeInvalid):
		return s.rangeError(name, u.ID(), size)
	case errors.Is(err, io.ErrUnexpectedEOF):
		// Nothing of the chunk was kept; Range says where to resume.
		e := errorf(http.StatusBadRequest, codeBlobUploadInvalid, "the body ended before its announced length; nothing of it was kept").
			withHeader("Location", s.url("/v2/"+name+"/blobs/uploads/"+u.ID())).
			withHeader("Range", uploadRange(size)).
			withHeader("Docker-Upload-Uuid", u.ID())
		e.Err = err
		return e
	}
	return err
}

// exactReader reads exactly n bytes of r: an end before them is
// io.ErrUnexpectedEOF, as net/http reports a body shorter than its
// Content-Length, so a chunked body shorter than its Content-Range is not
// taken for a whole chunk either.
type exactReader struct {
	r io.Reader
	n int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.n {
		p = p[:e.n]
	}
	n, err := e.r.Read(p)
	e.n -= int64(n)
	if err == io.EOF && e.n > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// rangeError is the 416 for a chunk that does not start where the session
// ends; its headers tell the client where to resume.
func (s *Server) rangeError(name, id string, size int64) *Error {
	return errorf(http.StatusRequestedRangeNotSatisfiable, codeBlobUploadInvalid,
		"chunk must start at byte %d", size).
		withHeader("Location", s.url("/v2/"+name+"/blobs/uploads/"+id)).
		withHeader("Range", uploadRange(size)).
		withHeader("Docker-Upload-Uuid", id)
}

// contentRangeRE accepts the spec's "<start>-<end>" and, leniently, the
// RFC 9110 forms some clients send ("bytes 0-99/100", "bytes=0-99").
var contentRangeRE = regexp.MustCompile(`^(?:bytes[ =])?([0-9]{1,18})-([0-9]{1,18})(?:/(?:[0-9]{1,18}|\*))?$`)

// parseContentRange parses a chunk's Content-Range.
func parseContentRange(s string) (first, last int64, ok bool) {
	m := contentRangeRE.FindStringSubmatch(s)
	if m == nil {
		return 0, 0, false
	}
	first, _ = strconv.ParseInt(m[1], 10, 64)
	last, _ = strconv.ParseInt(m[2], 10, 64)
	return first, last, last >= first
}
