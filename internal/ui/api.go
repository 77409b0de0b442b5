package ui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// The UI is a client of the registry's own HTTP API, called in process
// through the registry's http.Handler: every request goes through the same
// routing, authentication and authorization as docker's, with the logged-in
// user's credentials, so the UI can show nothing the API would not (the
// catalog's filtering, the ACL's grants) and never reads storage itself.

// maxAPIBody bounds what the UI reads of one API answer: manifests are
// capped at 4 MiB by the registry; image configs are far smaller.
const maxAPIBody = 8 << 20

// apiClient calls the registry's handler in process.
type apiClient struct {
	h      http.Handler
	prefix string // http.prefix without its trailing slash
}

// apiResponse is a buffered answer of the registry.
type apiResponse struct {
	status int
	header http.Header
	body   []byte
}

// apiError is an answer other than success, with the OCI error code.
type apiError struct {
	status int
	code   string // OCI error code, e.g. NAME_UNKNOWN
	msg    string
	scope  bool // 401 with error="insufficient_scope"
}

func (e *apiError) Error() string {
	return fmt.Sprintf("registry answered %d %s: %s", e.status, e.code, e.msg)
}

// call runs one API request. auth adds credentials; the client's address
// is passed on for the registry's log.
func (c *apiClient) call(ctx context.Context, method, path string, accept []string, auth authorizer, remoteAddr string) (*apiResponse, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://registry.invalid"+c.prefix+path, nil)
	if err != nil {
		return nil, err
	}
	req.RequestURI = req.URL.RequestURI()
	req.RemoteAddr = remoteAddr
	req.Header.Set("User-Agent", "wharf-ui")
	for _, a := range accept {
		req.Header.Add("Accept", a)
	}
	if auth != nil {
		auth(req)
	}
	w := &bufferWriter{header: http.Header{}}
	c.h.ServeHTTP(w, req)
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.tooBig {
		return nil, fmt.Errorf("%s %s: the answer is larger than %d bytes", method, path, maxAPIBody)
	}
	resp := &apiResponse{status: w.status, header: w.header, body: w.buf.Bytes()}
	if resp.status >= 300 {
		return resp, errorOf(resp)
	}
	return resp, nil
}

// errorOf reads an OCI error body into an apiError.
func errorOf(resp *apiResponse) error {
	e := &apiError{status: resp.status}
	var body struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(resp.body, &body) == nil && len(body.Errors) > 0 {
		e.code, e.msg = body.Errors[0].Code, body.Errors[0].Message
	}
	e.scope = strings.Contains(resp.header.Get("WWW-Authenticate"), `error="insufficient_scope"`)
	return e
}

// bufferWriter is an http.ResponseWriter that keeps the answer in memory,
// up to maxAPIBody.
type bufferWriter struct {
	header http.Header
	status int
	buf    bytes.Buffer
	tooBig bool
}

func (w *bufferWriter) Header() http.Header { return w.header }

func (w *bufferWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *bufferWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	if w.buf.Len()+len(p) > maxAPIBody {
		w.tooBig = true
		return 0, errors.New("ui: answer too large")
	}
	return w.buf.Write(p)
}
