package regserver

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/bcrypt"

	"github.com/wharf-registry/wharf/internal/regconfig"
)

// host returns the registry's host:port for image references.
func (tr *testRegistry) host() string { return strings.TrimPrefix(tr.URL, "http://") }

// ref parses an image reference on the test registry.
func (tr *testRegistry) ref(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(tr.host() + "/" + s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// sameLayers checks that every layer of got has the bytes of want's.
func sameLayers(t *testing.T, want, got v1.Image) {
	t.Helper()
	wl, err := want.Layers()
	if err != nil {
		t.Fatal(err)
	}
	gl, err := got.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(wl) != len(gl) {
		t.Fatalf("%d layers, want %d", len(gl), len(wl))
	}
	for i := range wl {
		wb := readAll(t, wl[i].Compressed)
		gb := readAll(t, gl[i].Compressed)
		if !bytes.Equal(wb, gb) {
			t.Errorf("layer %d differs", i)
		}
	}
}

func readAll(t *testing.T, open func() (io.ReadCloser, error)) []byte {
	t.Helper()
	rc, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pushPullRoundTrip pushes an image, a multi-arch index and a referrer with
// go-containerregistry and pulls them back, byte for byte.
func pushPullRoundTrip(t *testing.T, tr *testRegistry, opts ...remote.Option) {
	t.Helper()
	img, err := random.Image(2048, 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("image", func(t *testing.T) {
		ref := tr.ref(t, "team/app:v1")
		if err := remote.Write(ref, img, opts...); err != nil {
			t.Fatal(err)
		}
		got, err := remote.Image(ref, opts...)
		if err != nil {
			t.Fatal(err)
		}
		wd, _ := img.Digest()
		gd, err := got.Digest()
		if err != nil || gd != wd {
			t.Fatalf("pulled digest %v (%v), want %v", gd, err, wd)
		}
		sameLayers(t, img, got)
	})
	t.Run("index", func(t *testing.T) {
		idx, err := random.Index(1024, 2, 3)
		if err != nil {
			t.Fatal(err)
		}
		ref := tr.ref(t, "team/multi:latest")
		if err := remote.WriteIndex(ref, idx, opts...); err != nil {
			t.Fatal(err)
		}
		got, err := remote.Index(ref, opts...)
		if err != nil {
			t.Fatal(err)
		}
		wd, _ := idx.Digest()
		if gd, _ := got.Digest(); gd != wd {
			t.Fatalf("index digest %v, want %v", gd, wd)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		for _, child := range im.Manifests {
			want, err := idx.Image(child.Digest)
			if err != nil {
				t.Fatal(err)
			}
			got, err := remote.Image(tr.ref(t, "team/multi@"+child.Digest.String()), opts...)
			if err != nil {
				t.Fatal(err)
			}
			sameLayers(t, want, got)
		}
	})
	t.Run("referrer", func(t *testing.T) {
		subject, err := remote.Get(tr.ref(t, "team/app:v1"), opts...)
		if err != nil {
			t.Fatal(err)
		}
		sig := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
		sig = mutate.ConfigMediaType(sig, "application/vnd.example.signature+json")
		sig, err = mutate.Append(sig, mutate.Addendum{Layer: static.NewLayer([]byte("signature"), "application/vnd.example.signature")})
		if err != nil {
			t.Fatal(err)
		}
		sig = mutate.Subject(sig, subject.Descriptor).(v1.Image)
		sd, err := sig.Digest()
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(tr.ref(t, "team/app@"+sd.String()), sig, opts...); err != nil {
			t.Fatal(err)
		}
		d, _ := name.NewDigest(tr.host() + "/team/app@" + subject.Digest.String())
		idx, err := remote.Referrers(d, opts...)
		if err != nil {
			t.Fatal(err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		if len(im.Manifests) != 1 || im.Manifests[0].Digest != sd || im.Manifests[0].ArtifactType != "application/vnd.example.signature+json" {
			t.Fatalf("referrers = %+v, want the signature %v", im.Manifests, sd)
		}
	})
}

func TestGoContainerRegistryPushesAndPullsWithoutAuth(t *testing.T) {
	pushPullRoundTrip(t, newRegistry(t, nil))
}

func TestGoContainerRegistryPushesAndPullsWithHtpasswd(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(path, []byte("ci:"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tr := newRegistry(t, func(c *regconfig.Config) {
		c.Auth.Htpasswd = &regconfig.HtpasswdAuth{Realm: "Registry Realm", Path: path}
	})
	pushPullRoundTrip(t, tr, remote.WithAuth(&authn.Basic{Username: "ci", Password: "s3cret"}))

	t.Run("wrong password is refused", func(t *testing.T) {
		_, err := remote.Image(tr.ref(t, "team/app:v1"), remote.WithAuth(&authn.Basic{Username: "ci", Password: "nope"}))
		if err == nil || !strings.Contains(err.Error(), "UNAUTHORIZED") {
			t.Fatalf("got %v, want UNAUTHORIZED", err)
		}
	})
}
