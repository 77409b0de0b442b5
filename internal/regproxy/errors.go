package regproxy

import (
	"fmt"
	"net/http"
)

// OCI error codes the cache answers with; the registry renders them.
const (
	CodeManifestUnknown = "MANIFEST_UNKNOWN"
	CodeBlobUnknown     = "BLOB_UNKNOWN"
	CodeUnauthorized    = "UNAUTHORIZED"
	CodeTooManyRequests = "TOOMANYREQUESTS"
	CodeUnavailable     = "UNAVAILABLE"
	CodeUnsupported     = "UNSUPPORTED"
)

// Error is what the cache tells the client about an upstream answer or
// failure: an HTTP status, an OCI code and a message naming the upstream.
// Header holds headers to pass on (Retry-After). Err is the cause, for
// the log only.
type Error struct {
	Status  int
	Code    string
	Message string
	Header  http.Header
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %s: %s: %v", e.Status, e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// unavailable is the answer for an upstream that cannot be reached, timed
// out or failed: 503, quickly, so clients retry or fail rather than hang.
func (u *upstream) unavailable(err error) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable,
		Message: fmt.Sprintf("upstream %s is unavailable and the content is not cached", u.base), Err: err}
}

// statusError maps an upstream's non-success answer to the client's: 404
// to the resource's UNKNOWN code, 401 and 403 to UNAUTHORIZED naming the
// upstream, 429 to 429 with its Retry-After, anything else to 503.
func (u *upstream) statusError(resp *http.Response, unknownCode string) *Error {
	switch resp.StatusCode {
	case http.StatusNotFound:
		return &Error{Status: http.StatusNotFound, Code: unknownCode,
			Message: fmt.Sprintf("not found on upstream %s", u.base)}
	case http.StatusUnauthorized, http.StatusForbidden:
		return &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized,
			Message: fmt.Sprintf("upstream %s refused access (%s): check the proxy's username and password", u.base, resp.Status)}
	case http.StatusTooManyRequests:
		e := &Error{Status: http.StatusTooManyRequests, Code: CodeTooManyRequests,
			Message: fmt.Sprintf("upstream %s is rate limiting this registry", u.base)}
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			e.Header = http.Header{"Retry-After": {ra}}
		}
		return e
	}
	return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable,
		Message: fmt.Sprintf("upstream %s answered %s", u.base, resp.Status)}
}
