package authserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/wharf-registry/wharf/internal/loginguard"
)

// httpError is the one error type handlers return. Status, Code and Msg
// are what the client sees; Err is only logged; Header carries extra
// response headers such as WWW-Authenticate or Retry-After.
type httpError struct {
	Status int
	Code   string // OAuth2 error code (RFC 6749 section 5.2)
	Msg    string
	Err    error
	Header http.Header
}

// Error describes the error for logs, including the hidden cause.
func (e *httpError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %s: %s: %v", e.Status, e.Code, e.Msg, e.Err)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Msg)
}

// Unwrap returns the logged-only cause.
func (e *httpError) Unwrap() error { return e.Err }

// errorBody is the JSON of every error. error/error_description are the
// OAuth2 form containerd and go-containerregistry read; details is what the
// Docker CLI's client shows (it maps 401 to "unauthorized: <details>",
// 429 to "toomanyrequests: <details>").
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	Details     string `json:"details"`
}

func badRequest(code, format string, args ...any) *httpError {
	return &httpError{Status: http.StatusBadRequest, Code: code, Msg: fmt.Sprintf(format, args...)}
}

// unauthorized is the single answer to a wrong password, an unknown user
// and missing credentials: byte-identical, so it tells nothing about which
// one happened.
func unauthorized(realm, code string, cause error) *httpError {
	return &httpError{
		Status: http.StatusUnauthorized,
		Code:   code,
		Msg:    "authentication required",
		Err:    cause,
		Header: http.Header{"Www-Authenticate": {`Basic realm=` + strconv.Quote(realm)}},
	}
}

func tooManyRequests(e *loginguard.Throttled) *httpError {
	return &httpError{
		Status: http.StatusTooManyRequests,
		Code:   "slow_down",
		Msg:    "too many failed logins; retry later",
		Header: http.Header{"Retry-After": {strconv.Itoa(e.RetryAfterSeconds())}},
		Err:    e,
	}
}

// statusClientClosed is nginx's 499: the client closed the connection
// before the answer was ready. It is logged, never sent (nobody is there
// to read it), and is not a server error.
const statusClientClosed = 499

func clientGone(cause error) *httpError {
	return &httpError{Status: statusClientClosed, Code: "client_closed_request", Msg: "the client went away", Err: cause}
}

// asHTTPError turns any error into the httpError to render; unknown errors
// become a 500 whose detail is only logged.
func asHTTPError(err error) *httpError {
	var he *httpError
	if errors.As(err, &he) {
		return he
	}
	return &httpError{Status: http.StatusInternalServerError, Code: "server_error", Msg: "internal error", Err: err}
}

// writeError renders e. Headers go out before WriteHeader, always.
func writeError(w http.ResponseWriter, e *httpError) {
	h := w.Header()
	for k, vs := range e.Header {
		h[k] = vs
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(errorBody{Error: e.Code, Description: e.Msg, Details: e.Msg})
}

// handlerFunc is the handler shape: return an error, never render one.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// serve adapts h, rendering its error; a panic becomes a 500 so one bad
// request cannot take the process down.
func (s *Server) serve(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := safely(w, r, h); err != nil {
			e := asHTTPError(err)
			if e.Status >= 500 {
				s.log.Error("request failed", "path", r.URL.Path, "err", err)
			}
			writeError(w, e)
		}
	})
}

// safely runs h, turning a panic into an error (except http.ErrAbortHandler,
// which net/http uses on purpose).
func safely(w http.ResponseWriter, r *http.Request, h handlerFunc) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return h(w, r)
}
