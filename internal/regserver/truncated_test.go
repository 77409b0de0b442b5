package regserver

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// rawRequest writes head and body on a fresh TCP connection and closes it
// without reading an answer: a client that dies mid-body.
func rawRequest(t *testing.T, addr, head string, body []byte) {
	t.Helper()
	c, err := rawSend(t, addr, head, body)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// rawSend dials addr and writes head and body; the caller closes the
// connection, also on a write error.
func rawSend(t *testing.T, addr, head string, body []byte) (net.Conn, error) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Write(append([]byte(head), body...))
	return c, err
}

// waitRequests waits until the access log holds n finished requests with
// method: the server notices a dead client on its own schedule. The
// deadline is a guard against hangs, not a timing assertion.
func (tr *testRegistry) waitRequests(t *testing.T, method string, n int) {
	t.Helper()
	needle := `"msg":"request",` // slog's JSON field order: time, level, msg, attrs
	deadline := time.Now().Add(30 * time.Second)
	for {
		count := 0
		for _, l := range strings.Split(tr.logs.String(), "\n") {
			if strings.Contains(l, needle) && strings.Contains(l, `"method":"`+method+`"`) {
				count++
			}
		}
		if count >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server finished %d %s requests, want %d; log:\n%s", count, method, n, tr.logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestTruncatedBodiesAreNotKept: a client sends the headers of a chunk of
// N bytes, fewer bytes, and hangs up. Nothing of the chunk is kept, the
// session still ends where it did (GET says so), and resuming from there
// gives the right blob. A truncated final PUT and a truncated monolithic
// POST commit nothing.
func TestTruncatedBodiesAreNotKept(t *testing.T) {
	first := bytes.Repeat([]byte("a"), 1000)
	second := bytes.Repeat([]byte("b"), 3<<20) // several 1 MiB copy buffers
	whole := append(append([]byte{}, first...), second...)
	d := digest.FromBytes(whole)
	cases := []struct {
		name   string
		method string
		target func(loc string) string
		header string
	}{
		{"PATCH streamed", "PATCH", func(loc string) string { return loc }, ""},
		{"PATCH with Content-Range", "PATCH", func(loc string) string { return loc }, fmt.Sprintf("Content-Range: %d-%d\r\n", len(first), len(whole)-1)},
		{"PUT final chunk", "PUT", func(loc string) string { return loc + "?digest=" + d.String() }, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := newRegistry(t, nil)
			loc := tr.startSession(t, "app")
			resp, body := tr.do(t, request{method: "PATCH", path: loc, body: first})
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("first chunk: %s %s", resp.Status, body)
			}
			patches := 1

			head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n%s\r\n",
				tc.method, tc.target(loc), tr.Listener.Addr(), len(second), tc.header)
			rawRequest(t, tr.Listener.Addr().String(), head, second[:len(second)/2+12345])
			if tc.method == "PATCH" {
				patches++
				tr.waitRequests(t, "PATCH", patches)
			} else {
				tr.waitRequests(t, "PUT", 1)
			}

			resp, body = tr.do(t, request{method: "GET", path: loc})
			if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Range") != fmt.Sprintf("0-%d", len(first)-1) {
				t.Fatalf("GET session after the truncated %s: %s Range %q %s; want 204 Range 0-%d",
					tc.method, resp.Status, resp.Header.Get("Range"), body, len(first)-1)
			}
			if resp, _ := tr.do(t, request{method: "HEAD", path: "/v2/app/blobs/" + d.String()}); resp.StatusCode != http.StatusNotFound {
				t.Fatalf("the blob exists after a truncated %s: %s", tc.method, resp.Status)
			}

			resp, body = tr.do(t, request{method: "PATCH", path: loc, body: second,
				header: map[string]string{"Content-Range": fmt.Sprintf("%d-%d", len(first), len(whole)-1)}})
			if resp.StatusCode != http.StatusAccepted || resp.Header.Get("Range") != fmt.Sprintf("0-%d", len(whole)-1) {
				t.Fatalf("resume: %s Range %q %s", resp.Status, resp.Header.Get("Range"), body)
			}
			resp, body = tr.do(t, request{method: "PUT", path: loc + "?digest=" + d.String()})
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("finish: %s %s", resp.Status, body)
			}
			resp, body = tr.do(t, request{method: "GET", path: "/v2/app/blobs/" + d.String()})
			if resp.StatusCode != http.StatusOK || !bytes.Equal(body, whole) {
				t.Fatalf("GET blob: %s, %d bytes, want %d", resp.Status, len(body), len(whole))
			}
		})
	}

	t.Run("POST monolithic", func(t *testing.T) {
		tr := newRegistry(t, nil)
		head := fmt.Sprintf("POST /v2/app/blobs/uploads/?digest=%s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n",
			d, tr.Listener.Addr(), len(whole))
		rawRequest(t, tr.Listener.Addr().String(), head, whole[:len(whole)-1])
		tr.waitRequests(t, "POST", 1)
		if resp, _ := tr.do(t, request{method: "HEAD", path: "/v2/app/blobs/" + d.String()}); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("the blob exists after a truncated monolithic POST: %s", resp.Status)
		}
	})

	// A chunked body that ends cleanly but short of its Content-Range: the
	// client is still there and reads where to resume.
	t.Run("chunked PATCH shorter than its Content-Range", func(t *testing.T) {
		tr := newRegistry(t, nil)
		loc := tr.startSession(t, "app")
		req, err := http.NewRequest("PATCH", tr.URL+loc, struct{ *bytes.Reader }{bytes.NewReader(first[:600])}) // no length: chunked
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Range", fmt.Sprintf("0-%d", len(first)-1))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Range") != "0-0" {
			t.Fatalf("short chunked PATCH: %s Range %q; want 400 Range 0-0", resp.Status, resp.Header.Get("Range"))
		}
		resp, _ = tr.do(t, request{method: "GET", path: loc})
		if resp.Header.Get("Range") != "0-0" {
			t.Fatalf("session after it: Range %q", resp.Header.Get("Range"))
		}
	})
}
