package regserver

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/pkg/manifest"
)

// writeRegistry2Blob stores content where registry:2 keeps blobs and
// returns its digest.
func writeRegistry2Blob(t *testing.T, v2 string, content []byte) digest.Digest {
	t.Helper()
	d := digest.FromBytes(content)
	writeRegistry2File(t, filepath.Join(v2, "blobs/sha256", d.Encoded()[:2], d.Encoded(), "data"), content)
	return d
}

func writeRegistry2File(t *testing.T, path string, content []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestServesARegistry2Directory builds a store by hand exactly as
// registry:2 lays it out (NOTES.md, "Filesystem layout of registry:2") and
// pulls from it with a real client, so an existing /var/lib/registry is
// served as it is.
func TestServesARegistry2Directory(t *testing.T) {
	tr := newRegistry(t, nil)
	v2 := filepath.Join(tr.root, "docker/registry/v2")

	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{}}`)
	layers := [][]byte{bytes.Repeat([]byte("first layer "), 100), []byte("second layer")}
	cd := writeRegistry2Blob(t, v2, config)
	var layerJSON []byte
	var lds []digest.Digest
	for i, l := range layers {
		d := writeRegistry2Blob(t, v2, l)
		lds = append(lds, d)
		if i > 0 {
			layerJSON = append(layerJSON, ',')
		}
		layerJSON = append(layerJSON, []byte(`{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":`+strconv.Itoa(len(l))+`,"digest":"`+d.String()+`"}`)...)
	}
	body := []byte(`{"schemaVersion":2,"mediaType":"` + manifest.MediaTypeDockerSchema2 + `","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":` +
		strconv.Itoa(len(config)) + `,"digest":"` + cd.String() + `"},"layers":[` + string(layerJSON) + `]}`)
	md := writeRegistry2Blob(t, v2, body)

	repo := filepath.Join(v2, "repositories/library/alpine")
	for _, d := range append([]digest.Digest{cd}, lds...) {
		writeRegistry2File(t, filepath.Join(repo, "_layers/sha256", d.Encoded(), "link"), []byte(d.String()))
	}
	writeRegistry2File(t, filepath.Join(repo, "_manifests/revisions/sha256", md.Encoded(), "link"), []byte(md.String()))
	writeRegistry2File(t, filepath.Join(repo, "_manifests/tags/3.19/current/link"), []byte(md.String()))
	writeRegistry2File(t, filepath.Join(repo, "_manifests/tags/3.19/index/sha256", md.Encoded(), "link"), []byte(md.String()))

	img, err := remote.Image(tr.ref(t, "library/alpine:3.19"))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := img.Digest(); got.String() != md.String() {
		t.Errorf("manifest digest %s, want %s", got, md)
	}
	pulled, err := img.Layers()
	if err != nil || len(pulled) != len(layers) {
		t.Fatalf("%d layers (%v), want %d", len(pulled), err, len(layers))
	}
	for i, l := range pulled {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc) // ggcr verifies the digest while reading
		rc.Close()
		if err != nil || !bytes.Equal(got, layers[i]) {
			t.Errorf("layer %d: %v, %d bytes", i, err, len(got))
		}
	}
	_, tags := tr.do(t, request{method: "GET", path: "/v2/library/alpine/tags/list"})
	if string(tags) != `{"name":"library/alpine","tags":["3.19"]}`+"\n" {
		t.Errorf("tags %s", tags)
	}
	_, cat := tr.do(t, request{method: "GET", path: "/v2/_catalog"})
	if string(cat) != `{"repositories":["library/alpine"]}`+"\n" {
		t.Errorf("catalog %s", cat)
	}
}

// TestConcurrentPushesOfTheSameContent has 20 clients push the same blob
// and the same tag at once: all succeed and the tag resolves.
func TestConcurrentPushesOfTheSameContent(t *testing.T) {
	tr := newRegistry(t, nil)
	body := tr.testImage(t, "app", "shared") // blobs pushed once, up front
	layer := bytes.Repeat([]byte("same layer"), 10000)
	d := digest.FromBytes(layer)
	var wg sync.WaitGroup
	statuses := make(chan int, 40)
	for range 20 {
		wg.Go(func() {
			loc := tr.startSession(t, "app")
			resp, _ := tr.do(t, request{method: "PUT", path: loc + "?digest=" + d.String(), body: layer})
			statuses <- resp.StatusCode
			resp, _ = tr.do(t, request{method: "PUT", path: "/v2/app/manifests/latest", body: body,
				header: map[string]string{"Content-Type": manifest.MediaTypeOCIManifest}})
			statuses <- resp.StatusCode
		})
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != http.StatusCreated {
			t.Errorf("a concurrent push answered %d", s)
		}
	}
	resp, got := tr.do(t, request{method: "GET", path: "/v2/app/manifests/latest"})
	if resp.StatusCode != 200 || !bytes.Equal(got, body) {
		t.Errorf("tag: %d", resp.StatusCode)
	}
	resp, got = tr.do(t, request{method: "GET", path: "/v2/app/blobs/" + d.String()})
	if resp.StatusCode != 200 || !bytes.Equal(got, layer) {
		t.Errorf("blob: %d, %d bytes", resp.StatusCode, len(got))
	}
}
