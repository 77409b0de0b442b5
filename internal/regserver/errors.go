package regserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"syscall"

	"github.com/wharf-registry/wharf/pkg/manifest"
	"github.com/wharf-registry/wharf/pkg/reference"
	"github.com/wharf-registry/wharf/pkg/storage"
)

// OCI error codes (distribution-spec, "Error Codes"), plus the few
// registry:2 uses beyond them.
const (
	codeBlobUnknown         = "BLOB_UNKNOWN"
	codeBlobUploadInvalid   = "BLOB_UPLOAD_INVALID"
	codeBlobUploadUnknown   = "BLOB_UPLOAD_UNKNOWN"
	codeDigestInvalid       = "DIGEST_INVALID"
	codeManifestBlobUnknown = "MANIFEST_BLOB_UNKNOWN"
	codeManifestInvalid     = "MANIFEST_INVALID"
	codeManifestUnknown     = "MANIFEST_UNKNOWN"
	codeNameInvalid         = "NAME_INVALID"
	codeNameUnknown         = "NAME_UNKNOWN"
	codeSizeInvalid         = "SIZE_INVALID"
	codeUnauthorized        = "UNAUTHORIZED"
	codeTooManyRequests     = "TOOMANYREQUESTS"
	codeUnsupported         = "UNSUPPORTED"
	codePaginationInvalid   = "PAGINATION_NUMBER_INVALID"
	codeUnavailable         = "UNAVAILABLE"
	codeNotFound            = "NOT_FOUND"
	codeUnknown             = "UNKNOWN"
)

// jsonContentType is what registry:2 sends with every JSON body.
const jsonContentType = "application/json; charset=utf-8"

// Error is the one error type handlers return. Status, Code, Message,
// Detail and Header are what the client sees; Err is what the log sees
// (for 5xx errors the client gets a generic message instead).
type Error struct {
	Status  int
	Code    string
	Message string
	Detail  any
	Header  http.Header
	Err     error
}

// Error describes e for logs, cause included.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %s: %s: %v", e.Status, e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
}

// Unwrap returns the cause, so errors.Is sees through an *Error.
func (e *Error) Unwrap() error { return e.Err }

// errorf returns an *Error with a formatted message.
func errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// withHeader adds a header to send with the error and returns e.
func (e *Error) withHeader(key, value string) *Error {
	if e.Header == nil {
		e.Header = http.Header{}
	}
	e.Header.Add(key, value)
	return e
}

// asError maps any error to what the client should see. This is the one
// place domain sentinels become OCI error codes.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var mbu *storage.ManifestBlobUnknownError
	var tooBig *http.MaxBytesError
	wrap := func(status int, code, msg string) *Error {
		return &Error{Status: status, Code: code, Message: msg, Err: err}
	}
	switch {
	case errors.As(err, &mbu):
		e = wrap(http.StatusBadRequest, codeManifestBlobUnknown, "manifest references a blob or manifest not in this repository")
		e.Detail = map[string]string{"digest": mbu.Digest.String()}
		return e
	case errors.Is(err, storage.ErrManifestBlobUnknown):
		return wrap(http.StatusBadRequest, codeManifestBlobUnknown, "manifest references a blob or manifest not in this repository")
	case errors.As(err, &tooBig):
		return wrap(http.StatusRequestEntityTooLarge, codeSizeInvalid, "body larger than "+strconv.FormatInt(tooBig.Limit, 10)+" bytes")
	case errors.Is(err, storage.ErrBlobUnknown):
		return wrap(http.StatusNotFound, codeBlobUnknown, "blob unknown to registry")
	case errors.Is(err, storage.ErrManifestUnknown):
		return wrap(http.StatusNotFound, codeManifestUnknown, "manifest unknown")
	case errors.Is(err, storage.ErrNameUnknown):
		return wrap(http.StatusNotFound, codeNameUnknown, "repository name not known to registry")
	case errors.Is(err, storage.ErrUploadUnknown):
		return wrap(http.StatusNotFound, codeBlobUploadUnknown, "blob upload unknown to registry")
	case errors.Is(err, storage.ErrDigestInvalid), errors.Is(err, storage.ErrUnsupportedDigest),
		errors.Is(err, reference.ErrDigestInvalid), errors.Is(err, reference.ErrDigestUnsupported):
		e = wrap(http.StatusBadRequest, codeDigestInvalid, "provided digest did not match uploaded content")
		if !errors.Is(err, storage.ErrDigestInvalid) {
			e.Message = "invalid or unsupported digest (sha256 and sha512 in lowercase hex are supported)"
		}
		return e
	case errors.Is(err, storage.ErrSizeInvalid):
		return wrap(http.StatusBadRequest, codeSizeInvalid, "provided length did not match content length")
	case errors.Is(err, storage.ErrRangeInvalid):
		return wrap(http.StatusRequestedRangeNotSatisfiable, codeBlobUploadInvalid, "chunk does not start where the upload ends")
	case errors.Is(err, storage.ErrReadOnly):
		return wrap(http.StatusMethodNotAllowed, codeUnsupported, "the registry is in read-only mode")
	case errors.Is(err, storage.ErrNameInvalid):
		return wrap(http.StatusBadRequest, codeNameInvalid, "invalid repository name")
	case errors.Is(err, storage.ErrTagInvalid):
		return wrap(http.StatusBadRequest, codeManifestInvalid, "invalid tag")
	case errors.Is(err, manifest.ErrSchema1):
		return wrap(http.StatusBadRequest, codeManifestInvalid, "schema1 manifests are not supported; push a schema2 or OCI manifest")
	case errors.Is(err, manifest.ErrInvalid):
		e = wrap(http.StatusBadRequest, codeManifestInvalid, "manifest invalid")
		e.Detail = err.Error()
		return e
	case errors.Is(err, io.ErrUnexpectedEOF):
		// A body shorter than its Content-Length: the client broke off.
		return wrap(http.StatusBadRequest, codeBlobUploadInvalid, "the request body ended before its announced length")
	case errors.Is(err, context.Canceled):
		return wrap(499, codeUnknown, "request canceled")
	case storageFull(err):
		return wrap(http.StatusInsufficientStorage, codeUnknown, "storage is full")
	}
	return wrap(http.StatusInternalServerError, codeUnknown, "internal server error")
}

// storageFull reports a write refused for want of space or quota. The push
// gets a 507 that says so, and nothing else is wrong: reads go on.
func storageFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// errorBody is the OCI error envelope.
type errorBody struct {
	Errors []errorEntry `json:"errors"`
}

type errorEntry struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

// render writes err as an OCI error response. It is the only place error
// responses are written: Content-Type is set before WriteHeader, internal
// errors are logged with their cause and shown to the client without it.
func (s *Server) render(w http.ResponseWriter, r *http.Request, err error) {
	e := asError(err)
	info := requestInfoFrom(r.Context())
	if info != nil {
		info.err = e
	}
	if e.Status >= 500 {
		s.logger.ErrorContext(r.Context(), "request failed", "id", info.requestID(), "err", err)
	} else if e.Err != nil {
		s.logger.DebugContext(r.Context(), "request refused", "id", info.requestID(), "status", e.Status, "err", e.Err)
	}
	if rw, ok := w.(*responseWriter); ok && rw.wroteHeader {
		return // too late to change the response; the log has it
	}
	msg, detail := e.Message, e.Detail
	if e.Status >= 500 && e.Status != http.StatusServiceUnavailable {
		detail = nil // never leak internals
	}
	var buf bytes.Buffer
	_ = json.NewEncoder(&buf).Encode(errorBody{Errors: []errorEntry{{Code: e.Code, Message: msg, Detail: detail}}})
	h := w.Header()
	for _, k := range []string{"Docker-Content-Digest", "Etag", "Location", "Docker-Upload-Uuid", "Range", "Oci-Subject", "Content-Range", "Last-Modified"} {
		h.Del(k) // set by a handler before it failed
	}
	for k, v := range e.Header {
		h[k] = v
	}
	h.Set("Content-Type", jsonContentType)
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(e.Status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}
