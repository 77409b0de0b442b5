package regserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync/atomic"
	"time"
)

// requestInfo follows one request from the first middleware to the access
// log line: who, which repository, what action, how it ended.
type requestInfo struct {
	id      string
	start   time.Time
	route   string
	repo    string
	action  string
	user    string
	bytesIn atomic.Int64
	err     *Error
}

type infoKey struct{}

// requestInfoFrom returns the request's info; nil outside observe.
func requestInfoFrom(ctx context.Context) *requestInfo {
	i, _ := ctx.Value(infoKey{}).(*requestInfo)
	return i
}

func (i *requestInfo) requestID() string {
	if i == nil {
		return ""
	}
	return i.id
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// observe wraps every request: it sets the headers every response carries
// (API version and http.headers), counts bytes, recovers panics into a 500
// that leaks nothing, and records metrics and one access log line.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := &requestInfo{id: newRequestID(), start: time.Now(), route: "other"}
		rw := &responseWriter{ResponseWriter: w}
		h := rw.Header()
		for k, v := range s.headers {
			h[k] = append([]string(nil), v...)
		}
		h.Set("Docker-Distribution-Api-Version", "registry/2.0")
		h.Set("X-Request-Id", info.id)
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &countingBody{ReadCloser: r.Body, n: &info.bytesIn}
		}
		r = r.WithContext(context.WithValue(r.Context(), infoKey{}, info))
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.logger.Error("panic serving request", "id", info.id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				s.render(rw, r, &Error{Status: http.StatusInternalServerError, Code: codeUnknown,
					Message: "internal server error", Err: fmt.Errorf("panic: %v", p)})
			}
			s.finish(rw, r, info)
		}()
		next.ServeHTTP(rw, r)
	})
}

// finish records the request's metrics and access log line.
func (s *Server) finish(rw *responseWriter, r *http.Request, info *requestInfo) {
	status := rw.status
	if status == 0 {
		status = http.StatusOK
	}
	elapsed := time.Since(info.start)
	s.metrics.observeRequest(info.route, r.Method, status, elapsed, info.bytesIn.Load(), rw.bytes)
	if s.cfg.Log.AccessLog.Disabled {
		return
	}
	attrs := []slog.Attr{
		slog.String("id", info.id),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.String("route", info.route),
		slog.String("repository", info.repo),
		slog.String("action", info.action),
		slog.String("user", info.user),
		slog.Int("status", status),
		slog.Int64("bytes_in", info.bytesIn.Load()),
		slog.Int64("bytes_out", rw.bytes),
		slog.Duration("duration", elapsed),
		slog.String("remote", r.RemoteAddr),
		slog.String("user_agent", r.UserAgent()),
	}
	if info.err != nil {
		attrs = append(attrs, slog.String("error", info.err.Code))
	}
	s.logger.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
}

// countingBody counts the request bytes a handler reads.
type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

// Read counts what passes.
func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// responseWriter remembers the status and counts the bytes written. It
// passes ReadFrom through, so a handler that copies with io.Copy keeps the
// connection's fast path.
type responseWriter struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

// WriteHeader records the status; 1xx answers do not count as the final one.
func (w *responseWriter) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	if code >= 200 || code == http.StatusSwitchingProtocols {
		w.wroteHeader = true
	}
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Write counts the body bytes.
func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// ReadFrom lets io.Copy reach the connection's ReadFrom.
func (w *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(writerOnly{w.ResponseWriter}, src)
	}
	w.bytes += n
	return n, err
}

// writerOnly hides ReadFrom so io.Copy does not recurse.
type writerOnly struct{ io.Writer }

// Flush sends buffered data to the client.
func (w *responseWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		if !w.wroteHeader {
			w.WriteHeader(http.StatusOK)
		}
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
