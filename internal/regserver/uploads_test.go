package regserver

import (
	"bytes"
	"crypto/sha512"
	"encoding/hex"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

var uuidLocation = regexp.MustCompile(`^/v2/app/blobs/uploads/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func TestUploadSessionsFollowTheSpec(t *testing.T) {
	tr := newRegistry(t, nil)
	data := bytes.Repeat([]byte("0123456789"), 300) // 3000 bytes
	d := digest.FromBytes(data)

	resp, _ := tr.do(t, request{method: "POST", path: "/v2/app/blobs/uploads/"})
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusAccepted || !uuidLocation.MatchString(loc) {
		t.Fatalf("POST: %d, Location %q", resp.StatusCode, loc)
	}
	if resp.Header.Get("Range") != "0-0" || resp.Header.Get("Docker-Upload-UUID") != loc[len(loc)-36:] {
		t.Errorf("POST headers: Range %q, UUID %q", resp.Header.Get("Range"), resp.Header.Get("Docker-Upload-UUID"))
	}

	// Three chunks with Content-Range, each answered with the new Range.
	for start := 0; start < len(data); start += 1000 {
		end := start + 999
		resp, body := tr.do(t, request{method: "PATCH", path: loc, body: data[start : end+1],
			header: map[string]string{"Content-Range": strconv.Itoa(start) + "-" + strconv.Itoa(end), "Content-Type": "application/octet-stream"}})
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("PATCH %d-%d: %d %s", start, end, resp.StatusCode, body)
		}
		if got := resp.Header.Get("Range"); got != "0-"+strconv.Itoa(end) {
			t.Errorf("Range after chunk = %q, want 0-%d", got, end)
		}
		loc = resp.Header.Get("Location")
	}

	// A repeated chunk is out of order: 416 saying where to resume.
	resp, _ = tr.do(t, request{method: "PATCH", path: loc, body: data[:1000], header: map[string]string{"Content-Range": "0-999"}})
	if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable || resp.Header.Get("Range") != "0-2999" || resp.Header.Get("Location") != loc {
		t.Errorf("repeated chunk: %d Range %q Location %q", resp.StatusCode, resp.Header.Get("Range"), resp.Header.Get("Location"))
	}

	resp, _ = tr.do(t, request{method: "GET", path: loc})
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Range") != "0-2999" {
		t.Errorf("status: %d Range %q", resp.StatusCode, resp.Header.Get("Range"))
	}

	resp, body := tr.do(t, request{method: "PUT", path: loc + "?digest=" + d.String()})
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Location") != "/v2/app/blobs/"+d.String() || resp.Header.Get("Docker-Content-Digest") != d.String() {
		t.Fatalf("PUT: %d %s, headers %v", resp.StatusCode, body, resp.Header)
	}
	resp, body = tr.do(t, request{method: "GET", path: resp.Header.Get("Location")})
	if resp.StatusCode != 200 || !bytes.Equal(body, data) {
		t.Fatalf("GET blob: %d, %d bytes", resp.StatusCode, len(body))
	}
	for k, want := range map[string]string{
		"Content-Type": "application/octet-stream", "Docker-Content-Digest": d.String(),
		"Etag": `"` + d.String() + `"`, "Content-Length": "3000",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if resp, _ := tr.do(t, request{method: "GET", path: loc}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("session still exists after commit: %d", resp.StatusCode)
	}
}

func TestBlobUploadVariants(t *testing.T) {
	tr := newRegistry(t, nil)
	data := []byte("streamed without any Content-Range at all")
	d := digest.FromBytes(data)

	t.Run("streamed PATCH then PUT", func(t *testing.T) {
		loc := tr.startSession(t, "app")
		resp, _ := tr.do(t, request{method: "PATCH", path: loc, body: data})
		if resp.StatusCode != http.StatusAccepted || resp.Header.Get("Range") != "0-"+strconv.Itoa(len(data)-1) {
			t.Fatalf("PATCH: %d Range %q", resp.StatusCode, resp.Header.Get("Range"))
		}
		if resp, b := tr.do(t, request{method: "PUT", path: loc + "?digest=" + d.String()}); resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT: %d %s", resp.StatusCode, b)
		}
	})
	t.Run("POST then PUT with the whole body", func(t *testing.T) {
		loc := tr.startSession(t, "app2")
		if resp, b := tr.do(t, request{method: "PUT", path: loc + "?digest=" + d.String(), body: data}); resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT: %d %s", resp.StatusCode, b)
		}
	})
	t.Run("last chunk on the PUT", func(t *testing.T) {
		loc := tr.startSession(t, "app3")
		tr.do(t, request{method: "PATCH", path: loc, body: data[:10], header: map[string]string{"Content-Range": "0-9"}})
		resp, b := tr.do(t, request{method: "PUT", path: loc + "?digest=" + d.String(), body: data[10:],
			header: map[string]string{"Content-Range": "10-" + strconv.Itoa(len(data)-1)}})
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT: %d %s", resp.StatusCode, b)
		}
	})
	t.Run("sha512", func(t *testing.T) {
		sum := sha512.Sum512(data)
		d512 := "sha512:" + hex.EncodeToString(sum[:])
		resp, b := tr.do(t, request{method: "POST", path: "/v2/app/blobs/uploads/?digest=" + d512, body: data})
		if resp.StatusCode != http.StatusCreated || resp.Header.Get("Docker-Content-Digest") != d512 {
			t.Fatalf("POST: %d %s digest %q", resp.StatusCode, b, resp.Header.Get("Docker-Content-Digest"))
		}
		if resp, _ := tr.do(t, request{method: "HEAD", path: "/v2/app/blobs/" + d512}); resp.StatusCode != 200 || resp.Header.Get("Content-Length") != strconv.Itoa(len(data)) {
			t.Errorf("HEAD: %d length %q", resp.StatusCode, resp.Header.Get("Content-Length"))
		}
	})
	t.Run("cancel", func(t *testing.T) {
		loc := tr.startSession(t, "app")
		if resp, _ := tr.do(t, request{method: "DELETE", path: loc}); resp.StatusCode != http.StatusNoContent {
			t.Fatalf("DELETE: %d", resp.StatusCode)
		}
		if resp, _ := tr.do(t, request{method: "GET", path: loc}); resp.StatusCode != http.StatusNotFound {
			t.Errorf("cancelled session answers %d", resp.StatusCode)
		}
	})
	t.Run("mount from a repository without from", func(t *testing.T) {
		// Without tokens there is no list of readable repositories: an
		// anonymous mount of a blob the repository lacks is a new session.
		resp, _ := tr.do(t, request{method: "POST", path: "/v2/fresh/blobs/uploads/?mount=" + d.String()})
		if resp.StatusCode != http.StatusAccepted {
			t.Errorf("got %d, want 202", resp.StatusCode)
		}
		resp, _ = tr.do(t, request{method: "POST", path: "/v2/app/blobs/uploads/?mount=" + d.String()})
		if resp.StatusCode != http.StatusCreated {
			t.Errorf("blob already in the repository: got %d, want 201", resp.StatusCode)
		}
	})
	t.Run("mount with from", func(t *testing.T) {
		resp, _ := tr.do(t, request{method: "POST", path: "/v2/other/blobs/uploads/?mount=" + d.String() + "&from=app"})
		if resp.StatusCode != http.StatusCreated || resp.Header.Get("Location") != "/v2/other/blobs/"+d.String() {
			t.Fatalf("got %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		missing := digest.FromString("absent")
		resp, _ = tr.do(t, request{method: "POST", path: "/v2/other/blobs/uploads/?mount=" + missing.String() + "&from=app"})
		if resp.StatusCode != http.StatusAccepted {
			t.Errorf("mount of a missing blob: %d, want 202", resp.StatusCode)
		}
	})
}

func TestBlobRangeRequests(t *testing.T) {
	tr := newRegistry(t, nil)
	data := []byte("0123456789abcdefghij")
	d := tr.pushBlob(t, "app", data)
	tests := []struct {
		rng    string
		status int
		body   string
	}{
		{"bytes=0-4", 206, "01234"},
		{"bytes=10-", 206, "abcdefghij"},
		{"bytes=-3", 206, "hij"},
		{"bytes=50-60", 416, ""},
	}
	for _, tt := range tests {
		t.Run(tt.rng, func(t *testing.T) {
			resp, body := tr.do(t, request{method: "GET", path: "/v2/app/blobs/" + d.String(), header: map[string]string{"Range": tt.rng}})
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.status == 206 && string(body) != tt.body {
				t.Errorf("body %q, want %q", body, tt.body)
			}
			// An unsatisfiable range is bad input like any other: an OCI
			// JSON error, and Content-Range saying how long the blob is.
			if tt.status == 416 {
				if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Errorf("416 Content-Type %q, want application/json", ct)
				}
				if cr := resp.Header.Get("Content-Range"); cr != "bytes */20" {
					t.Errorf("416 Content-Range %q, want bytes */20", cr)
				}
				if !strings.Contains(string(body), `"code":"SIZE_INVALID"`) {
					t.Errorf("416 body %s lacks an OCI error code", body)
				}
			}
		})
	}
	t.Run("If-None-Match", func(t *testing.T) {
		resp, _ := tr.do(t, request{method: "GET", path: "/v2/app/blobs/" + d.String(), header: map[string]string{"If-None-Match": `"` + d.String() + `"`}})
		if resp.StatusCode != http.StatusNotModified {
			t.Errorf("status %d, want 304", resp.StatusCode)
		}
	})
}

func TestBlobDeleteUnlinksFromTheRepositoryOnly(t *testing.T) {
	tr := newRegistry(t, nil)
	d := tr.pushBlob(t, "a", []byte("shared"))
	tr.pushBlob(t, "b", []byte("shared"))
	if resp, _ := tr.do(t, request{method: "DELETE", path: "/v2/a/blobs/" + d.String()}); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE: %d", resp.StatusCode)
	}
	if resp, _ := tr.do(t, request{method: "HEAD", path: "/v2/a/blobs/" + d.String()}); resp.StatusCode != 404 {
		t.Errorf("still in a: %d", resp.StatusCode)
	}
	if resp, _ := tr.do(t, request{method: "HEAD", path: "/v2/b/blobs/" + d.String()}); resp.StatusCode != 200 {
		t.Errorf("gone from b: %d", resp.StatusCode)
	}
}

func TestContentRangeGrammar(t *testing.T) {
	tests := []struct {
		in          string
		first, last int64
		ok          bool
	}{
		{"0-0", 0, 0, true},
		{"100-199", 100, 199, true},
		{"bytes 0-99/100", 0, 99, true},
		{"bytes=0-99", 0, 99, true},
		{"0-99/*", 0, 99, true},
		{"5-4", 0, 0, false},
		{"-1-5", 0, 0, false},
		{"0-", 0, 0, false},
		{"a-b", 0, 0, false},
		{" 0-9", 0, 0, false},
		{"0-99999999999999999999", 0, 0, false},
	}
	for _, tt := range tests {
		first, last, ok := parseContentRange(tt.in)
		if ok != tt.ok || (ok && (first != tt.first || last != tt.last)) {
			t.Errorf("parseContentRange(%q) = %d, %d, %v; want %d, %d, %v", tt.in, first, last, ok, tt.first, tt.last, tt.ok)
		}
	}
}
