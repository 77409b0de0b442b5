package regserver

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/internal/regconfig"
	"github.com/wharf-registry/wharf/internal/testkit"
	"github.com/wharf-registry/wharf/pkg/manifest"
	"github.com/wharf-registry/wharf/pkg/storage"
)

// testRegistry is a real server over real storage in a temp dir.
type testRegistry struct {
	*httptest.Server
	srv   *Server
	store *storage.Store
	root  string
	logs  *testkit.SyncBuffer
}

// newRegistry starts a registry with the registry:2 image defaults, deletes
// enabled, and whatever edit changes.
func newRegistry(t testing.TB, edit func(*regconfig.Config)) *testRegistry {
	t.Helper()
	return newRegistryAt(t, nil, edit)
}

// newRegistryAt is newRegistry with the clock bearer tokens are checked
// against (nil: time.Now).
func newRegistryAt(t testing.TB, now func() time.Time, edit func(*regconfig.Config)) *testRegistry {
	t.Helper()
	cfg, err := regconfig.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	cfg.Storage.Filesystem.RootDirectory = root
	cfg.Storage.Delete.Enabled = true
	if edit != nil {
		edit(cfg)
	}
	root = cfg.Storage.Filesystem.RootDirectory // edit may move it
	store, err := storage.NewFilesystem(root, storage.Options{ReadOnly: cfg.Storage.Maintenance.ReadOnly.Enabled})
	if err != nil {
		t.Fatal(err)
	}
	logs := &testkit.SyncBuffer{} // safe for the server's goroutines
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := newServer(cfg, store, logger, now)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &testRegistry{Server: ts, srv: srv, store: store, root: root, logs: logs}
}

// request is one raw HTTP exchange for table tests.
type request struct {
	method string
	path   string
	body   []byte
	header map[string]string
	client *http.Client // nil: http.DefaultClient
}

// do sends req and returns the response with its body read.
func (tr *testRegistry) do(t *testing.T, req request) (*http.Response, []byte) {
	t.Helper()
	var body io.Reader
	if req.body != nil {
		body = bytes.NewReader(req.body)
	}
	target := req.path
	if !strings.HasPrefix(target, "http") {
		target = tr.URL + target
	}
	r, err := http.NewRequest(req.method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range req.header {
		if k == "Host" {
			r.Host = v
			continue
		}
		r.Header.Set(k, v)
	}
	client := req.client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// errorCode returns the first OCI error code in an error body, or "".
func errorCode(body []byte) string {
	var e struct {
		Errors []struct {
			Code string `json:"code"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &e) != nil || len(e.Errors) == 0 {
		return ""
	}
	return e.Errors[0].Code
}

// pushBlob uploads data to repo in one POST and returns its digest.
func (tr *testRegistry) pushBlob(t *testing.T, repo string, data []byte, header ...map[string]string) digest.Digest {
	t.Helper()
	d := digest.FromBytes(data)
	req := request{method: "POST", path: "/v2/" + repo + "/blobs/uploads/?digest=" + d.String(), body: data}
	if len(header) > 0 {
		req.header = header[0]
	}
	resp, body := tr.do(t, req)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("push blob to %s: %d %s", repo, resp.StatusCode, body)
	}
	return d
}

// testImage pushes a config and one layer to repo and returns an OCI image
// manifest naming them.
func (tr *testRegistry) testImage(t *testing.T, repo, seed string, header ...map[string]string) []byte {
	t.Helper()
	config := []byte(`{"architecture":"amd64","os":"linux","seed":"` + seed + `"}`)
	layer := []byte("layer of " + seed)
	cd := tr.pushBlob(t, repo, config, header...)
	ld := tr.pushBlob(t, repo, layer, header...)
	return []byte(`{"schemaVersion":2,"mediaType":"` + manifest.MediaTypeOCIManifest + `",` +
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + cd.String() + `","size":` + itoa64(int64(len(config))) + `},` +
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"` + ld.String() + `","size":` + itoa64(int64(len(layer))) + `}]}`)
}

// pushManifest PUTs body as ref in repo and returns its digest.
func (tr *testRegistry) pushManifest(t *testing.T, repo, ref string, body []byte, header ...map[string]string) digest.Digest {
	t.Helper()
	h := map[string]string{"Content-Type": manifest.MediaTypeOCIManifest}
	if len(header) > 0 {
		for k, v := range header[0] {
			h[k] = v
		}
	}
	resp, b := tr.do(t, request{method: "PUT", path: "/v2/" + repo + "/manifests/" + ref, body: body, header: h})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("push manifest %s:%s: %d %s", repo, ref, resp.StatusCode, b)
	}
	return digest.FromBytes(body)
}

// startSession opens an upload session in repo and returns its Location.
func (tr *testRegistry) startSession(t *testing.T, repo string) string {
	t.Helper()
	resp, body := tr.do(t, request{method: "POST", path: "/v2/" + repo + "/blobs/uploads/"})
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("start upload: %d %s", resp.StatusCode, body)
	}
	return resp.Header.Get("Location")
}
