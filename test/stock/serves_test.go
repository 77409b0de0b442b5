package stock

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// checker counts what it compared, so a test can say how much it proved.
type checker struct {
	t    *testing.T
	host string
	c    client
	n    int
}

// serves checks that the registry at host answers every artifact as it was
// pushed: each tag list, each manifest by tag and by digest (digest, media
// type, bytes), each child of an index, and every config and layer blob.
func (k *checker) serves(arts []artifact) {
	t := k.t
	t.Helper()
	tags := map[string][]string{}
	for _, a := range arts {
		tags[a.repo] = append(tags[a.repo], a.tags...)
	}
	for repo, want := range tags {
		got, err := remote.List(tagRef(t, k.host, repo, "latest").Context(), k.c.opts...)
		if err != nil {
			t.Errorf("tags of %s as %s: %v", repo, k.c.who, err)
			continue
		}
		k.equalSets("tags of "+repo, got, want)
	}
	for _, a := range arts {
		raw, mt, d := a.manifest(t)
		for _, tag := range a.tags {
			k.manifest(tagRef(t, k.host, a.repo, tag), raw, mt, d)
		}
		k.manifest(digestRef(t, k.host, a.repo, d.String()), raw, mt, d)
		if a.img != nil {
			k.blobs(a.repo, a.img)
			continue
		}
		im, err := a.idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		for _, child := range im.Manifests {
			img, err := a.idx.Image(child.Digest)
			if err != nil {
				t.Fatal(err)
			}
			craw, err := img.RawManifest()
			if err != nil {
				t.Fatal(err)
			}
			k.manifest(digestRef(t, k.host, a.repo, child.Digest.String()), craw, child.MediaType, child.Digest)
			k.blobs(a.repo, img)
		}
	}
}

// manifest fetches ref and compares it with what was pushed.
func (k *checker) manifest(ref name.Reference, raw []byte, mt types.MediaType, d v1.Hash) {
	t := k.t
	t.Helper()
	got, err := remote.Get(ref, k.c.opts...)
	if err != nil {
		t.Errorf("GET manifest %s as %s: %v", ref, k.c.who, err)
		return
	}
	k.n++
	if got.Digest != d || got.MediaType != mt || !bytes.Equal(got.Manifest, raw) {
		t.Errorf("manifest %s: got %s %s (%d bytes), want %s %s (%d bytes)",
			ref, got.Digest, got.MediaType, len(got.Manifest), d, mt, len(raw))
	}
}

// blobs fetches the config and each layer of img from repo and compares
// their bytes' digest and size with the manifest's descriptors.
func (k *checker) blobs(repo string, img v1.Image) {
	t := k.t
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, desc := range append([]v1.Descriptor{m.Config}, m.Layers...) {
		ref := digestRef(t, k.host, repo, desc.Digest.String())
		l, err := remote.Layer(ref, k.c.opts...)
		if err != nil {
			t.Errorf("blob %s: %v", ref, err)
			continue
		}
		rc, err := l.Compressed()
		if err != nil {
			t.Errorf("GET blob %s as %s: %v", ref, k.c.who, err)
			continue
		}
		h := sha256.New()
		n, err := io.Copy(h, rc)
		rc.Close()
		k.n++
		if err != nil || n != desc.Size || "sha256:"+hex.EncodeToString(h.Sum(nil)) != desc.Digest.String() {
			t.Errorf("blob %s: read %d bytes (err %v), want %d with that digest", ref, n, err, desc.Size)
		}
	}
}

// catalog checks that the registry lists exactly the artifacts' repositories.
func (k *checker) catalog(arts []artifact) {
	t := k.t
	t.Helper()
	got, err := catalogErr(t, k.host, k.c)
	if err != nil {
		t.Errorf("catalog as %s: %v", k.c.who, err)
		return
	}
	var want []string
	for _, a := range arts {
		if !slices.Contains(want, a.repo) {
			want = append(want, a.repo)
		}
	}
	k.equalSets("catalog", got, want)
}

// equalSets compares as sets: registry:2 does not sort tags.
func (k *checker) equalSets(what string, got, want []string) {
	k.t.Helper()
	k.n++
	got, want = slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		k.t.Errorf("%s as %s: got %q, want %q", what, k.c.who, got, want)
	}
}
