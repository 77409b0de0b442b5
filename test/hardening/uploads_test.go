package hardening

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/internal/regconfig"
	"github.com/wharf-registry/wharf/pkg/manifest"
)

// TestUploadSessionsCannotBeHijacked has mallory, who may push only to her
// own repository, use alice's upload session id in every way the API
// allows: each is 404 BLOB_UPLOAD_UNKNOWN (or 401 where she lacks the
// grant), and alice's upload then completes with exactly her bytes.
func TestUploadSessionsCannotBeHijacked(t *testing.T) {
	a := newAuthority(t)
	reg := newTokenRegistry(t, a, nil)
	alice := bearer(a.token(t, "alice", grant("repository", "alice/app", "pull", "push")))
	data := bytes.Repeat([]byte("alice's layer "), 1000)
	d := digest.FromBytes(data)
	resp, body := do(t, reg.URL, request{method: "POST", path: "/v2/alice/app/blobs/uploads/", header: alice})
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("open: %d %s", resp.StatusCode, body)
	}
	loc := resp.Header.Get("Location")
	id := loc[strings.LastIndexByte(loc, '/')+1:]
	half := len(data) / 2
	patch := request{method: "PATCH", path: loc, body: data[:half], header: map[string]string{"Content-Range": "0-" + strconv.Itoa(half-1)}}
	for k, v := range alice {
		patch.header[k] = v
	}
	if resp, body := do(t, reg.URL, patch); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("first chunk: %d %s", resp.StatusCode, body)
	}

	mallory := bearer(a.token(t, "mallory", grant("repository", "mallory/x", "pull", "push", "delete"), grant("repository", "alice/app", "pull")))
	evil := []byte(strings.Repeat("X", len(data)-half))
	malloryLoc := "/v2/mallory/x/blobs/uploads/" + id
	hdr := func(extra ...string) map[string]string {
		h := map[string]string{"Authorization": mallory["Authorization"]}
		for i := 0; i < len(extra); i += 2 {
			h[extra[i]] = extra[i+1]
		}
		return h
	}
	rng := strconv.Itoa(half) + "-" + strconv.Itoa(len(data)-1)
	tests := []struct {
		name   string
		req    request
		status int
		code   string
	}{
		{"status through her repository", request{method: "GET", path: malloryLoc, header: hdr()}, 404, "BLOB_UPLOAD_UNKNOWN"},
		{"append through her repository", request{method: "PATCH", path: malloryLoc, body: evil, header: hdr("Content-Range", rng)}, 404, "BLOB_UPLOAD_UNKNOWN"},
		{"finish through her repository", request{method: "PUT", path: malloryLoc + "?digest=" + digest.FromBytes(append(data[:half:half], evil...)).String(), body: evil, header: hdr("Content-Range", rng)}, 404, "BLOB_UPLOAD_UNKNOWN"},
		{"cancel through her repository", request{method: "DELETE", path: malloryLoc, header: hdr()}, 404, "BLOB_UPLOAD_UNKNOWN"},
		{"append in alice's repository with pull only", request{method: "PATCH", path: loc, body: evil, header: hdr("Content-Range", rng)}, 401, "UNAUTHORIZED"},
		{"finish in alice's repository with pull only", request{method: "PUT", path: loc + "?digest=" + d.String(), header: hdr()}, 401, "UNAUTHORIZED"},
		{"cancel in alice's repository without delete", request{method: "DELETE", path: loc, header: hdr()}, 401, "UNAUTHORIZED"},
		{"upper-case id", request{method: "GET", path: "/v2/mallory/x/blobs/uploads/" + strings.ToUpper(id), header: hdr()}, 404, "BLOB_UPLOAD_UNKNOWN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, reg.URL, tt.req)
			if resp.StatusCode != tt.status || errorCode(body) != tt.code {
				t.Errorf("%s %s: %d %s, want %d %s", tt.req.method, tt.req.path, resp.StatusCode, body, tt.status, tt.code)
			}
		})
	}

	finish := request{method: "PUT", path: loc + "?digest=" + d.String(), body: data[half:], header: map[string]string{"Content-Range": rng}}
	for k, v := range alice {
		finish.header[k] = v
	}
	if resp, body := do(t, reg.URL, finish); resp.StatusCode != http.StatusCreated {
		t.Fatalf("alice finishes her upload: %d %s", resp.StatusCode, body)
	}
	if resp, got := do(t, reg.URL, request{method: "GET", path: "/v2/alice/app/blobs/" + d.String(), header: alice}); resp.StatusCode != 200 || !bytes.Equal(got, data) {
		t.Errorf("alice's blob: %d, %d bytes (want %d intact)", resp.StatusCode, len(got), len(data))
	}
	if resp, _ := do(t, reg.URL, request{method: "HEAD", path: "/v2/mallory/x/blobs/" + d.String(), header: mallory}); resp.StatusCode != 404 {
		t.Errorf("alice's blob visible in mallory/x: %d", resp.StatusCode)
	}
}

// halfClosed sends head, then body, then closes its side of the
// connection, as a client that announced more than it sent, and returns
// the response.
func halfClosed(t *testing.T, base, head string, body []byte) *http.Response {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: "POST"})
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// blobFiles counts the blob data files in a registry:2 tree.
func blobFiles(t *testing.T, root string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(filepath.Join(root, "docker/registry/v2/blobs"), func(p string, de os.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if !de.IsDir() && de.Name() == "data" {
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBodiesThatLieAboutTheirSizeStoreNothing sends blobs and manifests
// whose length, range or digest disagree with what arrives: each is
// refused with its exact status, and neither the claimed digest nor the
// digest of what did arrive becomes visible.
func TestBodiesThatLieAboutTheirSizeStoreNothing(t *testing.T) {
	reg := newRegistry(t, nil)
	host := strings.TrimPrefix(reg.URL, "http://")
	full := bytes.Repeat([]byte("0123456789"), 100)
	claimed := digest.FromBytes(full)
	sent := full[:500]
	before := blobFiles(t, reg.root)

	t.Run("monolithic POST announcing more than it sends", func(t *testing.T) {
		resp := halfClosed(t, reg.URL, "POST /v2/app/blobs/uploads/?digest="+claimed.String()+" HTTP/1.1\r\nHost: "+host+
			"\r\nContent-Length: 1000\r\nContent-Type: application/octet-stream\r\n\r\n", sent)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("status %d, want 400", resp.StatusCode)
		}
	})
	t.Run("monolithic POST of what it announces, under another digest", func(t *testing.T) {
		resp, body := do(t, reg.URL, request{method: "POST", path: "/v2/app/blobs/uploads/?digest=" + claimed.String(), body: sent})
		if resp.StatusCode != http.StatusBadRequest || errorCode(body) != "DIGEST_INVALID" {
			t.Errorf("%d %s, want 400 DIGEST_INVALID", resp.StatusCode, body)
		}
	})
	t.Run("closing PUT announcing more than it sends", func(t *testing.T) {
		resp, body := do(t, reg.URL, request{method: "POST", path: "/v2/app/blobs/uploads/"})
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("open: %d %s", resp.StatusCode, body)
		}
		resp = halfClosed(t, reg.URL, "PUT "+resp.Header.Get("Location")+"?digest="+claimed.String()+" HTTP/1.1\r\nHost: "+host+
			"\r\nContent-Length: 1000\r\n\r\n", sent)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("status %d, want 400", resp.StatusCode)
		}
	})
	for _, tt := range []struct {
		name, contentRange string
		status             int
		code               string
	}{
		{"range overflowing int64", "0-99999999999999999999", 400, "BLOB_UPLOAD_INVALID"},
		{"range with a negative start", "-1-498", 400, "BLOB_UPLOAD_INVALID"},
		{"range of unknown start", "bytes */1000", 400, "BLOB_UPLOAD_INVALID"},
		{"range longer than the body", "0-999", 400, "SIZE_INVALID"},
		{"range past the session's end", "10-509", 416, "BLOB_UPLOAD_INVALID"},
	} {
		t.Run("closing PUT with "+tt.name, func(t *testing.T) {
			resp, body := do(t, reg.URL, request{method: "POST", path: "/v2/app/blobs/uploads/"})
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("open: %d %s", resp.StatusCode, body)
			}
			resp, body = do(t, reg.URL, request{method: "PUT", path: resp.Header.Get("Location") + "?digest=" + digest.FromBytes(sent).String(),
				body: sent, header: map[string]string{"Content-Range": tt.contentRange}})
			if resp.StatusCode != tt.status || errorCode(body) != tt.code {
				t.Errorf("%d %s, want %d %s", resp.StatusCode, body, tt.status, tt.code)
			}
		})
	}
	t.Run("manifest streamed without a length, 100 MiB", func(t *testing.T) {
		body := io.MultiReader(strings.NewReader(`{"schemaVersion":2,"mediaType":"`+manifest.MediaTypeOCIManifest+`","annotations":{"pad":"`),
			io.LimitReader(zeros{}, 100<<20))
		r, err := http.NewRequest("PUT", reg.URL+"/v2/app/manifests/huge", body)
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Content-Type", manifest.MediaTypeOCIManifest)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatalf("no answer while the body was still streaming: %v", err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge || errorCode(got) != "SIZE_INVALID" {
			t.Errorf("%d %s, want 413 SIZE_INVALID", resp.StatusCode, got)
		}
	})
	t.Run("manifest mixing manifests and layers", func(t *testing.T) {
		layer := reg.pushBlob(t, nil, "app", []byte("a real layer"))
		mixed := `{"schemaVersion":2,"mediaType":"` + manifest.MediaTypeOCIIndex + `","manifests":[],` +
			`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"` + layer.String() + `","size":12}]}`
		resp, got := do(t, reg.URL, request{method: "PUT", path: "/v2/app/manifests/mixed", body: []byte(mixed),
			header: map[string]string{"Content-Type": manifest.MediaTypeOCIIndex}})
		if resp.StatusCode != http.StatusBadRequest || errorCode(got) != "MANIFEST_INVALID" {
			t.Errorf("%d %s, want 400 MANIFEST_INVALID", resp.StatusCode, got)
		}
		before++ // the layer this case pushed
	})

	for _, d := range []digest.Digest{claimed, digest.FromBytes(sent)} {
		if resp, _ := do(t, reg.URL, request{method: "HEAD", path: "/v2/app/blobs/" + d.String()}); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s is visible after refused uploads: %d", d, resp.StatusCode)
		}
	}
	for _, tag := range []string{"huge", "mixed"} {
		if resp, _ := do(t, reg.URL, request{method: "HEAD", path: "/v2/app/manifests/" + tag}); resp.StatusCode != http.StatusNotFound {
			t.Errorf("refused manifest %s was stored: %d", tag, resp.StatusCode)
		}
	}
	if after := blobFiles(t, reg.root); after != before {
		t.Errorf("%d blob files after refused uploads, want %d", after, before)
	}
}

// zeros reads as an endless run of '0'.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '0'
	}
	return len(p), nil
}

// TestDeletesRefusedLeaveEverythingInPlace: with deletes disabled, or with
// a token that lacks delete, DELETE of a tag, a manifest and a blob is
// refused, and the tag still pulls.
func TestDeletesRefusedLeaveEverythingInPlace(t *testing.T) {
	a := newAuthority(t)
	for _, mode := range []struct {
		name   string
		edit   func(*regconfig.Config)
		grants []string
		status int
		code   string
	}{
		{"deletes disabled, token may delete", func(c *regconfig.Config) { c.Storage.Delete.Enabled = false }, []string{"*"}, 405, "UNSUPPORTED"},
		{"deletes enabled, token lacks delete", nil, []string{"pull", "push"}, 401, "UNAUTHORIZED"},
	} {
		t.Run(mode.name, func(t *testing.T) {
			reg := newTokenRegistry(t, a, mode.edit)
			owner := bearer(a.token(t, "owner", grant("repository", "app", "*")))
			body, md := reg.pushImage(t, owner, "app", "v1")
			layer := reg.pushBlob(t, owner, "app", []byte("a layer to keep"))
			caller := bearer(a.token(t, "caller", grant("repository", "app", mode.grants...)))
			for _, path := range []string{"/v2/app/manifests/v1", "/v2/app/manifests/" + md.String(), "/v2/app/blobs/" + layer.String()} {
				resp, got := do(t, reg.URL, request{method: "DELETE", path: path, header: caller})
				if resp.StatusCode != mode.status || errorCode(got) != mode.code {
					t.Errorf("DELETE %s: %d %s, want %d %s", path, resp.StatusCode, got, mode.status, mode.code)
				}
			}
			if resp, got := do(t, reg.URL, request{method: "GET", path: "/v2/app/manifests/v1", header: owner}); resp.StatusCode != 200 || !bytes.Equal(got, body) {
				t.Errorf("tag after refused deletes: %d", resp.StatusCode)
			}
			if resp, _ := do(t, reg.URL, request{method: "HEAD", path: "/v2/app/blobs/" + layer.String(), header: owner}); resp.StatusCode != 200 {
				t.Errorf("blob after refused deletes: %d", resp.StatusCode)
			}
		})
	}
}
