package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/pkg/manifest"
)

// newStore returns a filesystem store on a fresh directory and the
// directory.
func newStore(t *testing.T) (*Store, string) {
	t.Helper()
	root := t.TempDir()
	s, err := NewFilesystem(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s, root
}

func sha256Of(b []byte) digest.Digest {
	sum := sha256.Sum256(b)
	return digest.NewDigestFromBytes(digest.SHA256, sum[:])
}

func sha512Of(b []byte) digest.Digest {
	sum := sha512.Sum512(b)
	return digest.NewDigestFromBytes(digest.SHA512, sum[:])
}

// pushBlob stores content in repo and returns its descriptor.
func pushBlob(t *testing.T, s *Store, repo string, content []byte) Descriptor {
	t.Helper()
	desc, err := s.PutBlob(context.Background(), repo, sha256Of(content), bytes.NewReader(content), int64(len(content)))
	if err != nil {
		t.Fatalf("PutBlob(%s): %v", repo, err)
	}
	return desc
}

type desc struct {
	MediaType    string            `json:"mediaType"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Digest       digest.Digest     `json:"digest"`
	Size         int64             `json:"size"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

func descOf(mediaType string, d Descriptor) desc {
	return desc{MediaType: mediaType, Digest: d.Digest, Size: d.Size}
}

// imageBody builds an image manifest of the given media type.
func imageBody(mediaType string, config Descriptor, layers []Descriptor, subject *Descriptor, artifactType string) []byte {
	doc := map[string]any{
		"schemaVersion": 2,
		"mediaType":     mediaType,
		"config":        descOf("application/vnd.oci.image.config.v1+json", config),
	}
	var ls []desc
	for _, l := range layers {
		ls = append(ls, descOf("application/vnd.oci.image.layer.v1.tar+gzip", l))
	}
	doc["layers"] = ls
	if subject != nil {
		doc["subject"] = descOf(manifest.MediaTypeOCIManifest, *subject)
	}
	if artifactType != "" {
		doc["artifactType"] = artifactType
	}
	b, _ := json.Marshal(doc)
	return b
}

// indexBody builds an index of the given media type over children.
func indexBody(mediaType string, children ...Descriptor) []byte {
	var ms []desc
	for _, c := range children {
		ms = append(ms, descOf(manifest.MediaTypeOCIManifest, c))
	}
	b, _ := json.Marshal(map[string]any{"schemaVersion": 2, "mediaType": mediaType, "manifests": ms})
	return b
}

// image is what pushImage stored.
type image struct {
	Manifest Descriptor
	Blobs    []Descriptor // config first
}

// pushImage pushes a config, one layer (both derived from seed) and an OCI
// manifest tagged tag ("" for untagged).
func pushImage(t *testing.T, s *Store, repo, tag, seed string) image {
	t.Helper()
	cfg := pushBlob(t, s, repo, []byte(`{"seed":"`+seed+`"}`))
	layer := pushBlob(t, s, repo, []byte("layer of "+seed))
	body := imageBody(manifest.MediaTypeOCIManifest, cfg, []Descriptor{layer}, nil, "")
	return image{Manifest: putManifest(t, s, repo, tag, manifest.MediaTypeOCIManifest, body), Blobs: []Descriptor{cfg, layer}}
}

// putManifest stores body under tag, or by digest when tag is "".
func putManifest(t *testing.T, s *Store, repo, tag, mediaType string, body []byte) Descriptor {
	t.Helper()
	ref := tag
	if ref == "" {
		ref = sha256Of(body).String()
	}
	d, _, err := s.PutManifest(context.Background(), repo, ref, mediaType, body)
	if err != nil {
		t.Fatalf("PutManifest(%s:%s): %v", repo, ref, err)
	}
	return d
}

// ageAll sets the mtime of everything under root to age ago, making the
// whole store "old" for garbage collection.
func ageAll(t *testing.T, root string, age time.Duration) {
	t.Helper()
	old := time.Now().Add(-age)
	err := filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(p, old, old)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// v2 joins a registry:2 layout path below root.
func v2(root string, parts ...string) string {
	return filepath.Join(append([]string{root, "docker", "registry", "v2"}, parts...)...)
}

func blobFile(root string, d digest.Digest) string {
	return v2(root, "blobs", d.Algorithm().String(), d.Encoded()[:2], d.Encoded(), "data")
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// readable reports whether tag resolves to a manifest whose blobs can all
// be read back in full with the right content.
func readable(t *testing.T, s *Store, repo, tag string) error {
	t.Helper()
	ctx := context.Background()
	m, err := s.GetManifest(ctx, repo, tag)
	if err != nil {
		return err
	}
	pm, err := manifest.Parse("", m.Body)
	if err != nil {
		return err
	}
	for _, b := range pm.Blobs() {
		rc, _, err := s.OpenBlob(ctx, repo, b.Digest)
		if err != nil {
			return err
		}
		v := b.Digest.Verifier()
		_, err = copyBuffered(v, rc)
		rc.Close()
		if err != nil {
			return err
		}
		if !v.Verified() {
			return ErrDigestInvalid
		}
	}
	return nil
}
