package stock

import (
	"fmt"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// artifact is one thing pushed under one or more tags: an image or an index
// (whose children are pushed with it, by digest).
type artifact struct {
	repo string
	tags []string
	img  v1.Image      // set for an image
	idx  v1.ImageIndex // set for an index
}

// manifest is what the registry must answer for the artifact's reference.
func (a artifact) manifest(t *testing.T) (raw []byte, mt types.MediaType, d v1.Hash) {
	t.Helper()
	var m interface {
		RawManifest() ([]byte, error)
		MediaType() (types.MediaType, error)
		Digest() (v1.Hash, error)
	} = a.img
	if a.idx != nil {
		m = a.idx
	}
	raw, err := m.RawManifest()
	if err == nil {
		mt, err = m.MediaType()
	}
	if err == nil {
		d, err = m.Digest()
	}
	if err != nil {
		t.Fatalf("%s: %v", a.repo, err)
	}
	return raw, mt, d
}

// content is what every test pushes: both manifest generations a docker
// 20.10 engine or a current buildkit pushes (Docker schema 2 and OCI), each
// as a single image and as a two-platform index, one with two tags, in a
// nested repository name too. Fresh random layers each time, so no test
// can pass on what another left behind.
func content(t *testing.T) []artifact {
	t.Helper()
	return []artifact{
		{repo: "app", tags: []string{"1.0", "latest"}, img: dockerImage(t, "amd64")},
		{repo: "team/tool", tags: []string{"v1"}, img: ociImage(t, "amd64")},
		{repo: "multi", tags: []string{"1"}, idx: index(t, types.DockerManifestList, dockerImage(t, "amd64"), dockerImage(t, "arm64"))},
		{repo: "team/multi-oci", tags: []string{"2"}, idx: index(t, types.OCIImageIndex, ociImage(t, "amd64"), ociImage(t, "arm64"))},
	}
}

// dockerImage is a two-layer Docker schema 2 image for linux/arch.
func dockerImage(t *testing.T, arch string) v1.Image {
	t.Helper()
	img, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	return withPlatform(t, img, arch)
}

// ociImage is a two-layer OCI image for linux/arch, with OCI layer media
// types.
func ociImage(t *testing.T, arch string) v1.Image {
	t.Helper()
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	for range 2 {
		l, err := random.Layer(2048, types.OCILayer)
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	return withPlatform(t, img, arch)
}

func withPlatform(t *testing.T, img v1.Image, arch string) v1.Image {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// index is an index of media type mt over images, each with its platform.
func index(t *testing.T, mt types.MediaType, images ...v1.Image) v1.ImageIndex {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, mt)
	for _, img := range images {
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: cf.OS, Architecture: cf.Architecture}},
		})
	}
	return idx
}

// push writes every artifact, failing the test on the first error.
func push(t *testing.T, host string, c client, arts []artifact) {
	t.Helper()
	for _, a := range arts {
		if err := pushErr(t, host, c, a); err != nil {
			t.Fatalf("pushing %s as %s: %v", a.repo, c.who, err)
		}
	}
}

// pushErr writes a under its first tag, then adds the other tags.
func pushErr(t *testing.T, host string, c client, a artifact) error {
	t.Helper()
	var tagged remote.Taggable = a.img
	if a.idx != nil {
		tagged = a.idx
	}
	for i, tag := range a.tags {
		ref := tagRef(t, host, a.repo, tag)
		var err error
		switch {
		case i > 0:
			err = remote.Tag(ref, tagged, c.opts...)
		case a.idx != nil:
			err = remote.WriteIndex(ref, a.idx, c.opts...)
		default:
			err = remote.Write(ref, a.img, c.opts...)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", ref, err)
		}
	}
	return nil
}
