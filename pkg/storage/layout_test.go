package storage

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/pkg/manifest"
)

// writeFile writes a file of a hand-made registry:2 tree.
func writeFile(t *testing.T, p string, content []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
}

// registry2Tree builds, file by file, what registry:2 leaves in
// /var/lib/registry after `docker push localhost:5000/library/ubuntu:latest`.
func registry2Tree(t *testing.T, root string) (mf, config, layer []byte) {
	config = []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	layer = bytes.Repeat([]byte("layer-bytes "), 1000)
	mf = []byte(`{
   "schemaVersion": 2,
   "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
   "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": ` + strconv.Itoa(len(config)) + `, "digest": "` + sha256Of(config).String() + `"},
   "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": ` + strconv.Itoa(len(layer)) + `, "digest": "` + sha256Of(layer).String() + `"}]
}`)
	repo := v2(root, "repositories", "library", "ubuntu")
	for _, b := range [][]byte{config, layer, mf} {
		writeFile(t, blobFile(root, sha256Of(b)), b)
	}
	for _, b := range [][]byte{config, layer} {
		d := sha256Of(b)
		writeFile(t, filepath.Join(repo, "_layers", "sha256", d.Encoded(), "link"), []byte(d.String()))
	}
	m := sha256Of(mf)
	writeFile(t, filepath.Join(repo, "_manifests", "revisions", "sha256", m.Encoded(), "link"), []byte(m.String()))
	writeFile(t, filepath.Join(repo, "_manifests", "tags", "latest", "current", "link"), []byte(m.String()))
	writeFile(t, filepath.Join(repo, "_manifests", "tags", "latest", "index", "sha256", m.Encoded(), "link"), []byte(m.String()))
	// registry:2 deletes a manifest by removing the link file only.
	gone := sha256Of([]byte("deleted manifest"))
	os.MkdirAll(filepath.Join(repo, "_manifests", "revisions", "sha256", gone.Encoded()), 0o755)
	// A repository whose only manifest was deleted that way.
	os.MkdirAll(v2(root, "repositories", "deleted", "_manifests", "revisions", "sha256", gone.Encoded()), 0o755)
	return mf, config, layer
}

func TestServesARegistry2TreeAsItIs(t *testing.T) {
	root := t.TempDir()
	mf, config, layer := registry2Tree(t, root)
	s := reopen(t, root)
	ctx := context.Background()

	repos, _, err := s.Catalog(ctx, "", -1)
	if err != nil || strings.Join(repos, ",") != "library/ubuntu" {
		t.Fatalf("Catalog = %v, %v", repos, err)
	}
	tags, _, err := s.Tags(ctx, "library/ubuntu", "", -1)
	if err != nil || strings.Join(tags, ",") != "latest" {
		t.Fatalf("Tags = %v, %v", tags, err)
	}
	for _, ref := range []string{"latest", sha256Of(mf).String()} {
		m, err := s.GetManifest(ctx, "library/ubuntu", ref)
		if err != nil || !bytes.Equal(m.Body, mf) || m.MediaType != manifest.MediaTypeDockerSchema2 || m.Digest != sha256Of(mf) {
			t.Fatalf("GetManifest(%s) = %+v, %v", ref, m.Descriptor, err)
		}
	}
	for _, b := range [][]byte{config, layer} {
		rc, d, err := s.OpenBlob(ctx, "library/ubuntu", sha256Of(b))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(got, b) || d.Size != int64(len(b)) {
			t.Errorf("blob %s read back wrong", d.Digest)
		}
	}
	if problems, err := s.Fsck(ctx); err != nil || len(problems) != 0 {
		t.Errorf("Fsck = %v, %v", problems, err)
	}
	// Pushing on top of it reuses what is there.
	pushImage(t, s, "library/ubuntu", "22.04", "new")
	if err := readable(t, s, "library/ubuntu", "latest"); err != nil {
		t.Error(err)
	}
}

// listTree returns every file under dir as "relative/path=content".
func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		content := "<data>"
		if de.Name() == "link" {
			b, _ := os.ReadFile(p)
			content = string(b)
		}
		out = append(out, filepath.ToSlash(rel)+"="+content)
		return nil
	})
	sort.Strings(out)
	return out
}

func TestWritesExactlyRegistry2Paths(t *testing.T) {
	s, root := newStore(t)
	ctx := context.Background()
	img := pushImage(t, s, "team/app", "v1", "layout")
	cfg := pushBlob(t, s, "team/app", []byte("{}"))
	sig := putManifest(t, s, "team/app", "", manifest.MediaTypeOCIManifest,
		imageBody(manifest.MediaTypeOCIManifest, cfg, nil, &img.Manifest, "application/vnd.example.sig"))
	if err := s.Check(ctx); err != nil {
		t.Fatal(err)
	}
	link := func(d digest.Digest) string { return d.String() }
	h := func(d Descriptor) string { return d.Digest.Encoded() }
	m := img.Manifest
	want := []string{
		"_layers/sha256/" + h(img.Blobs[0]) + "/link=" + link(img.Blobs[0].Digest),
		"_layers/sha256/" + h(img.Blobs[1]) + "/link=" + link(img.Blobs[1].Digest),
		"_layers/sha256/" + h(cfg) + "/link=" + link(cfg.Digest),
		"_manifests/revisions/sha256/" + h(m) + "/link=" + link(m.Digest),
		"_manifests/revisions/sha256/" + h(sig) + "/link=" + link(sig.Digest),
		"_manifests/tags/v1/current/link=" + link(m.Digest),
		"_manifests/tags/v1/index/sha256/" + h(m) + "/link=" + link(m.Digest),
		"_manifests/referrers/sha256/" + h(m) + "/sha256/" + h(sig) + "/link=" + link(sig.Digest),
	}
	sort.Strings(want)
	got := listTree(t, v2(root, "repositories", "team", "app"))
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("repository files:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var blobs []string
	for _, d := range []Descriptor{img.Blobs[0], img.Blobs[1], cfg, m, sig} {
		blobs = append(blobs, "sha256/"+h(d)[:2]+"/"+h(d)+"/data=<data>")
	}
	sort.Strings(blobs)
	if got := listTree(t, v2(root, "blobs")); strings.Join(got, "\n") != strings.Join(blobs, "\n") {
		t.Fatalf("blob files:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(blobs, "\n"))
	}
	// Nothing else anywhere: no temporary files, no health probes.
	if got := listTree(t, root); len(got) != len(want)+len(blobs) {
		t.Fatalf("unexpected files under root:\n%s", strings.Join(got, "\n"))
	}
	b, _ := os.ReadFile(blobFile(root, m.Digest))
	if sha256Of(b) != m.Digest {
		t.Error("manifest blob holds other bytes than its digest")
	}
}
