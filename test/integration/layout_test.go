package integration

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/wharf-registry/wharf/internal/testkit"
)

// registry2Store writes files in registry:2's filesystem layout by hand, the
// way an existing /var/lib/registry holds them (NOTES.md):
//
//	<root>/docker/registry/v2/
//	  blobs/sha256/<first two hex>/<hex>/data
//	  repositories/<name>/_layers/sha256/<hex>/link                  -> "sha256:<hex>"
//	  repositories/<name>/_manifests/revisions/sha256/<hex>/link
//	  repositories/<name>/_manifests/tags/<tag>/current/link
//	  repositories/<name>/_manifests/tags/<tag>/index/sha256/<hex>/link
type registry2Store struct {
	t    *testing.T
	root string // the rootdirectory of the registry config
}

func (s registry2Store) v2(parts ...string) string {
	return filepath.Join(append([]string{s.root, "docker", "registry", "v2"}, parts...)...)
}

// blob stores content and returns its digest.
func (s registry2Store) blob(content []byte) string {
	sum := sha256.Sum256(content)
	hexSum := hex.EncodeToString(sum[:])
	testkit.WriteFile(s.t, s.v2("blobs", "sha256", hexSum[:2], hexSum), "data", content)
	return "sha256:" + hexSum
}

// link writes a link file holding digest, as registry:2 does (no newline).
func (s registry2Store) link(digest string, path ...string) {
	testkit.WriteFile(s.t, s.v2(path...), "link", []byte(digest))
}

// layer links a blob into a repository.
func (s registry2Store) layer(repo, digest string) {
	s.link(digest, "repositories", repo, "_layers", "sha256", strings.TrimPrefix(digest, "sha256:"))
}

// revision records a manifest in a repository.
func (s registry2Store) revision(repo, digest string) {
	s.link(digest, "repositories", repo, "_manifests", "revisions", "sha256", strings.TrimPrefix(digest, "sha256:"))
}

// tag points tag at current and records every digest in history in the tag's
// index, as registry:2 keeps what a tag pointed at before.
func (s registry2Store) tag(repo, tag, current string, history ...string) {
	s.link(current, "repositories", repo, "_manifests", "tags", tag, "current")
	for _, d := range append(history, current) {
		s.link(d, "repositories", repo, "_manifests", "tags", tag, "index", "sha256", strings.TrimPrefix(d, "sha256:"))
	}
}

// handImage is an image whose every byte the test wrote itself.
type handImage struct {
	manifest, config []byte
	layers           [][]byte // gzipped tars
	digest           string   // of manifest
}

// image writes a Docker schema2 image (what the docker 20.10 engine pushes)
// with one layer per file, links it into repo and returns it.
func (s registry2Store) image(repo string, files map[string]string) handImage {
	var img handImage
	var diffIDs, layerDescs []string
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		tarball := tarFile(s.t, n, files[n])
		diff := sha256.Sum256(tarball)
		diffIDs = append(diffIDs, `"sha256:`+hex.EncodeToString(diff[:])+`"`)
		gz := gzipBytes(s.t, tarball)
		d := s.blob(gz)
		s.layer(repo, d)
		img.layers = append(img.layers, gz)
		layerDescs = append(layerDescs, fmt.Sprintf(
			`{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":%d,"digest":%q}`, len(gz), d))
	}
	img.config = fmt.Appendf(nil, `{"architecture":"amd64","os":"linux","config":{"Cmd":["/hello"]},"rootfs":{"type":"layers","diff_ids":[%s]}}`,
		strings.Join(diffIDs, ","))
	configDigest := s.blob(img.config)
	s.layer(repo, configDigest)
	img.manifest = fmt.Appendf(nil, `{
   "schemaVersion": 2,
   "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
   "config": {
      "mediaType": "application/vnd.docker.container.image.v1+json",
      "size": %d,
      "digest": %q
   },
   "layers": [
      %s
   ]
}`, len(img.config), configDigest, strings.Join(layerDescs, ",\n      "))
	img.digest = s.blob(img.manifest)
	s.revision(repo, img.digest)
	return img
}

// TestServesHandMadeRegistry2Layout serves a storage directory written by hand
// in registry:2's layout, with no auth, and pulls it with go-containerregistry.
func TestServesHandMadeRegistry2Layout(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	s := registry2Store{t: t, root: root}
	centos := s.image("centos", map[string]string{"etc/centos-release": "CentOS Linux release 7.9.2009 (Core)\n"})
	old := s.image("library/nginx", map[string]string{"usr/sbin/nginx": "nginx 1.24\n"})
	nginx := s.image("library/nginx", map[string]string{"usr/sbin/nginx": "nginx 1.25\n", "etc/nginx/nginx.conf": "events {}\n"})
	s.tag("centos", "latest", centos.digest)
	s.tag("library/nginx", "1.25", nginx.digest)
	s.tag("library/nginx", "latest", nginx.digest, old.digest)
	s.tag("library/nginx", "1.24", old.digest)

	reg := startRegistryAt(t, root, "")
	host, base := reg.Host(), reg.URL("http")
	anon := newClient(t, account{}, nil)

	for _, tc := range []struct {
		ref  string
		want handImage
	}{
		{"centos:latest", centos},
		{"library/nginx:latest", nginx},
		{"library/nginx:1.24", old},
		{"library/nginx@" + nginx.digest, nginx},
	} {
		t.Run("pull "+tc.ref, func(t *testing.T) {
			img, err := remote.Image(ref(t, host+"/"+tc.ref), anon.opts...)
			if err != nil {
				t.Fatalf("pull: %v", err)
			}
			assertHandImage(t, tc.want, img)
		})
	}

	t.Run("catalog and tags list show the hand-made repositories", func(t *testing.T) {
		resp, body := httpGet(t, base+"/v2/_catalog", "", "")
		var catalog struct {
			Repositories []string `json:"repositories"`
		}
		decodeJSON(t, body, &catalog)
		if want := []string{"centos", "library/nginx"}; resp.StatusCode != http.StatusOK || !slices.Equal(catalog.Repositories, want) {
			t.Errorf("GET /v2/_catalog: %s %s; want repositories %q", resp.Status, body, want)
		}
		resp, body = httpGet(t, base+"/v2/library/nginx/tags/list", "", "")
		var tags struct {
			Name string   `json:"name"`
			Tags []string `json:"tags"`
		}
		decodeJSON(t, body, &tags)
		if want := []string{"1.24", "1.25", "latest"}; resp.StatusCode != http.StatusOK || tags.Name != "library/nginx" || !slices.Equal(tags.Tags, want) {
			t.Errorf("GET /v2/library/nginx/tags/list: %s %s; want name library/nginx, tags %q", resp.Status, body, want)
		}
	})

	t.Run("a push lands in registry:2's layout", func(t *testing.T) {
		img, err := random.Image(1024, 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref(t, host+"/centos:8"), img, anon.opts...); err != nil {
			t.Fatalf("push: %v", err)
		}
		d, _ := img.Digest()
		layers, _ := img.Layers()
		ld, _ := layers[0].Digest()
		cd, _ := img.ConfigName()
		for path, want := range map[string]string{
			"repositories/centos/_manifests/tags/8/current/link":                    d.String(),
			"repositories/centos/_manifests/tags/8/index/sha256/" + d.Hex + "/link": d.String(),
			"repositories/centos/_manifests/revisions/sha256/" + d.Hex + "/link":    d.String(),
			"repositories/centos/_layers/sha256/" + ld.Hex + "/link":                ld.String(),
			"repositories/centos/_layers/sha256/" + cd.Hex + "/link":                cd.String(),
			"blobs/sha256/" + d.Hex[:2] + "/" + d.Hex + "/data":                     "", // content checked below
			"blobs/sha256/" + ld.Hex[:2] + "/" + ld.Hex + "/data":                   "",
		} {
			got, err := os.ReadFile(s.v2(filepath.FromSlash(path)))
			if err != nil {
				t.Errorf("after push: %v", err)
				continue
			}
			if want != "" && string(got) != want {
				t.Errorf("%s holds %q, want %q", path, got, want)
			}
		}
		raw, _ := img.RawManifest()
		if got, _ := os.ReadFile(s.v2("blobs", "sha256", d.Hex[:2], d.Hex, "data")); !bytes.Equal(got, raw) {
			t.Errorf("stored manifest blob differs from the pushed manifest")
		}
	})
}

// assertHandImage checks a pulled image is byte for byte the hand-made one.
func assertHandImage(t *testing.T, want handImage, got v1.Image) {
	t.Helper()
	if d, err := got.Digest(); err != nil || d.String() != want.digest {
		t.Errorf("digest %s (%v), want %s", d, err, want.digest)
	}
	if m, err := got.RawManifest(); err != nil || !bytes.Equal(m, want.manifest) {
		t.Errorf("manifest %s (%v), want %s", m, err, want.manifest)
	}
	if c, err := got.RawConfigFile(); err != nil || !bytes.Equal(c, want.config) {
		t.Errorf("config %s (%v), want %s", c, err, want.config)
	}
	layers, err := got.Layers()
	if err != nil || len(layers) != len(want.layers) {
		t.Fatalf("%d layers (%v), want %d", len(layers), err, len(want.layers))
	}
	for i, l := range layers {
		if b := layerBytes(t, l); !bytes.Equal(b, want.layers[i]) {
			t.Errorf("layer %d: %d bytes that differ from the %d stored", i, len(b), len(want.layers[i]))
		}
	}
}

func tarFile(t *testing.T, name, content string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write([]byte(content)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipBytes(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
