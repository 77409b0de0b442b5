package regserver

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/internal/httpbody"
	"github.com/wharf-registry/wharf/pkg/manifest"
)

// rawExchange sends head and body on a fresh connection, then reads the
// answer, as a simple client does (curl -T, a shell script): a server that
// closes before it has the whole body makes that client's write fail and
// its read see a reset. It returns the status and body read, or the error.
func rawExchange(t *testing.T, addr, head string, body []byte) (int, []byte, error) {
	t.Helper()
	c, err := rawSend(t, addr, head, body)
	defer c.Close()
	if err != nil {
		return 0, nil, fmt.Errorf("sending: %w", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func manifestHead(addr net.Addr, size int, extra string) string {
	return fmt.Sprintf("PUT /v2/app/manifests/big HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s\r\n",
		addr, manifest.MediaTypeOCIManifest, size, extra)
}

// A manifest over the limit is answered 413 SIZE_INVALID, and the client
// reads that answer every time rather than a reset or a broken pipe: the
// server reads the rest of the body before answering.
func TestOversizedManifestIs413ForEveryClient(t *testing.T) {
	tr := newRegistry(t, nil)
	big := bytes.Repeat([]byte(" "), 5<<20)
	const rounds = 20
	clients := []struct {
		name string
		send func() (int, []byte, error)
	}{
		{"net/http", func() (int, []byte, error) {
			req, err := http.NewRequest("PUT", tr.URL+"/v2/app/manifests/big", bytes.NewReader(big))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", manifest.MediaTypeOCIManifest)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return 0, nil, err
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			return resp.StatusCode, b, err
		}},
		{"raw TCP", func() (int, []byte, error) {
			return rawExchange(t, tr.Listener.Addr().String(), manifestHead(tr.Listener.Addr(), len(big), ""), big)
		}},
	}
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			read := 0
			for i := range rounds {
				status, body, err := c.send()
				if err != nil || status != http.StatusRequestEntityTooLarge || errorCode(body) != codeSizeInvalid {
					t.Errorf("round %d: status %d, body %.100q, error %v", i, status, body, err)
					continue
				}
				read++
			}
			t.Logf("%s: %d of %d rounds read 413 SIZE_INVALID", c.name, read, rounds)
		})
	}
}

// countingReader counts what a client's transport takes from a body.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// With Expect: 100-continue the refusal comes before the body: the server
// answers 413 instead of "100 Continue", and the client sends nothing.
func TestOversizedManifestWithExpectIsRefusedBeforeTheBody(t *testing.T) {
	tr := newRegistry(t, nil)
	size := 5 << 20
	t.Run("raw TCP", func(t *testing.T) {
		c, err := net.Dial("tcp", tr.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, manifestHead(tr.Listener.Addr(), size, "Expect: 100-continue\r\n")); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusRequestEntityTooLarge || errorCode(body) != codeSizeInvalid {
			t.Fatalf("answer to the headers: %s %q, want 413 SIZE_INVALID", resp.Status, body)
		}
	})
	t.Run("net/http", func(t *testing.T) {
		body := &countingReader{r: bytes.NewReader(bytes.Repeat([]byte(" "), size))}
		req, err := http.NewRequest("PUT", tr.URL+"/v2/app/manifests/big", body)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = int64(size)
		req.Header.Set("Content-Type", manifest.MediaTypeOCIManifest)
		req.Header.Set("Expect", "100-continue")
		// Wait for the server however long it takes: the body must go
		// only on "100 Continue", never on a timeout.
		client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Hour}}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge || errorCode(b) != codeSizeInvalid {
			t.Fatalf("%s %q, want 413 SIZE_INVALID", resp.Status, b)
		}
		if n := body.n.Load(); n != 0 {
			t.Fatalf("the client sent %d bytes of the body", n)
		}
	})
	t.Run("within the limit it is accepted", func(t *testing.T) {
		m := tr.testImage(t, "app", "expect")
		req, err := http.NewRequest("PUT", tr.URL+"/v2/app/manifests/small", bytes.NewReader(m))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", manifest.MediaTypeOCIManifest)
		req.Header.Set("Expect", "100-continue")
		client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Hour}}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("%s, want 201", resp.Status)
		}
	})
}

// A body that goes on and on is read up to httpbody.DrainLimit, no
// further: then the server answers and closes, and the client's writes
// fail. Announced or chunked, the server reads a bounded amount.
func TestEndlessManifestBodyIsCutOffAfterTheBound(t *testing.T) {
	tr := newRegistry(t, nil)
	const total = 100 << 20
	// Loopback socket buffers hold a few MiB the server never reads.
	const slack = 16 << 20
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			c, err := net.Dial("tcp", tr.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			head := manifestHead(tr.Listener.Addr(), total, "")
			if chunked {
				head = fmt.Sprintf("PUT /v2/app/manifests/big HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nTransfer-Encoding: chunked\r\n\r\n",
					tr.Listener.Addr(), manifest.MediaTypeOCIManifest)
			}
			if _, err := io.WriteString(c, head); err != nil {
				t.Fatal(err)
			}
			piece := bytes.Repeat([]byte(" "), 1<<20)
			if chunked {
				piece = append([]byte(fmt.Sprintf("%x\r\n", len(piece))), append(piece, "\r\n"...)...)
			}
			sent := 0
			for sent < total {
				n, err := c.Write(piece)
				sent += n
				if err != nil {
					break
				}
			}
			if sent >= total {
				t.Fatalf("the server took all %d MiB", total>>20)
			}
			if sent > httpbody.DrainLimit+slack {
				t.Fatalf("the server took %d MiB before closing, bound %d MiB", sent>>20, httpbody.DrainLimit>>20)
			}
			t.Logf("the connection closed after %d MiB were sent", sent>>20)
		})
	}
}
