package hardening

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/pkg/manifest"
)

// TestTwentyClientsPushingTheSameImageAgree has 20 clients push the same
// config and layer (half in one request, half in chunks) and the same tag
// at once: every request succeeds, the tag serves the complete manifest,
// each blob is stored in exactly one verified file, no temporary file is
// left behind, and fsck finds the store consistent.
func TestTwentyClientsPushingTheSameImageAgree(t *testing.T) {
	reg := newRegistry(t, nil)
	const repo, clients = "team/app", 20
	config := []byte(`{"architecture":"amd64","os":"linux"}`)
	layer := randomData(3<<20, 22)
	body := imageManifest(digest.FromBytes(config), len(config), digest.FromBytes(layer), len(layer))

	errs := make(chan error, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			for _, blob := range [][]byte{config, layer} {
				d := digest.FromBytes(blob)
				if i%2 == 0 {
					resp, b := do(t, reg.URL, request{method: "POST", path: "/v2/" + repo + "/blobs/uploads/?digest=" + d.String(), body: blob})
					if resp.StatusCode != http.StatusCreated {
						errs <- fmt.Errorf("client %d: monolithic %s: %d %s", i, d, resp.StatusCode, b)
					}
					continue
				}
				resp, b := do(t, reg.URL, request{method: "POST", path: "/v2/" + repo + "/blobs/uploads/"})
				if resp.StatusCode != http.StatusAccepted {
					errs <- fmt.Errorf("client %d: open: %d %s", i, resp.StatusCode, b)
					continue
				}
				loc, half := resp.Header.Get("Location"), len(blob)/2
				resp, b = do(t, reg.URL, request{method: "PATCH", path: loc, body: blob[:half], header: map[string]string{"Content-Range": fmt.Sprintf("0-%d", half-1)}})
				if resp.StatusCode != http.StatusAccepted {
					errs <- fmt.Errorf("client %d: chunk: %d %s", i, resp.StatusCode, b)
					continue
				}
				resp, b = do(t, reg.URL, request{method: "PUT", path: loc + "?digest=" + d.String(), body: blob[half:],
					header: map[string]string{"Content-Range": fmt.Sprintf("%d-%d", half, len(blob)-1)}})
				if resp.StatusCode != http.StatusCreated {
					errs <- fmt.Errorf("client %d: commit %s: %d %s", i, d, resp.StatusCode, b)
				}
			}
			resp, b := do(t, reg.URL, request{method: "PUT", path: "/v2/" + repo + "/manifests/latest", body: body,
				header: map[string]string{"Content-Type": manifest.MediaTypeOCIManifest}})
			if resp.StatusCode != http.StatusCreated {
				errs <- fmt.Errorf("client %d: manifest: %d %s", i, resp.StatusCode, b)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if resp, got := do(t, reg.URL, request{method: "GET", path: "/v2/" + repo + "/manifests/latest"}); resp.StatusCode != 200 || !bytes.Equal(got, body) {
		t.Errorf("tag: %d %.200s", resp.StatusCode, got)
	}
	if resp, got := do(t, reg.URL, request{method: "GET", path: "/v2/" + repo + "/blobs/" + digest.FromBytes(layer).String()}); resp.StatusCode != 200 || !bytes.Equal(got, layer) {
		t.Errorf("layer: %d, %d bytes", resp.StatusCode, len(got))
	}
	if n := blobFiles(t, reg.root); n != 3 {
		t.Errorf("%d blob files, want 3 (config, layer, manifest)", n)
	}
	checkBlobFiles(t, reg.root)
	_ = filepath.WalkDir(reg.root, func(p string, de os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(de.Name(), ".tmp-") {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
	if problems, err := reg.store.Fsck(context.Background()); err != nil || len(problems) != 0 {
		t.Errorf("fsck: %v %v", problems, err)
	}
}
