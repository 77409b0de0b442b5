// Package httpbody reads request bodies that have a size limit, so that
// every client reads the refusal of one that is too large.
//
// Refusing early is not enough: a server that answers 413 and closes while
// the client is still sending makes the client's kernel see a reset, and
// most clients then report "connection reset" or "broken pipe" instead of
// the answer. So a too-large body is refused before it is sent when the
// client asked (Expect: 100-continue: net/http sends "100 Continue" only
// when the handler reads the body, and Read does not), and otherwise read
// to its end and thrown away, up to DrainLimit, before the answer goes out.
// Only a body beyond that bound gets the answer and a closed connection.
package httpbody

import (
	"io"
	"net/http"
	"strings"
)

// DrainLimit is how much of a too-large body is read and discarded so the
// client can finish sending and read the answer: four times the largest
// limit in use (manifests, 4 MiB), and a bound on the work a client can
// make the server do per request.
const DrainLimit = 16 << 20

// Read returns r's body if it holds at most limit bytes. A larger body is
// an *http.MaxBytesError with Limit set, and Read has arranged the
// connection so that the answer the caller then writes reaches the client:
//
//   - Content-Length above limit with Expect: 100-continue: nothing is
//     read, the client sends nothing;
//   - Content-Length above DrainLimit: nothing is read and the connection
//     closes after the answer;
//   - otherwise the rest is read and discarded up to DrainLimit; a body
//     that goes on beyond it closes the connection after the answer.
func Read(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	tooLarge := &http.MaxBytesError{Limit: limit}
	if r.ContentLength > limit {
		if expectsContinue(r) {
			return nil, tooLarge
		}
		if r.ContentLength > DrainLimit {
			w.Header().Set("Connection", "close")
			return nil, tooLarge
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) <= limit {
		return body, nil
	}
	n, err := io.Copy(io.Discard, io.LimitReader(r.Body, DrainLimit-int64(len(body))+1))
	if err != nil || int64(len(body))+n > DrainLimit {
		w.Header().Set("Connection", "close")
	}
	return nil, tooLarge
}

// expectsContinue reports whether the client waits for "100 Continue"
// before sending the body.
func expectsContinue(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Expect"), "100-continue")
}
