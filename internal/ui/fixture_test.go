package ui_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The seed 002 accounts (internal/authconfig/testdata/seed_auth_config.yml).
var (
	admin  = account{"admin", "adminpassword"}
	reader = account{"reader", "readerpassword"}
)

type account struct{ user, password string }

// sbomType is the artifact type of the referrer the fixture pushes.
const sbomType = "application/vnd.example.sbom+json"

// fixture is what pushImages put into the registry.
type fixture struct {
	latest   v1.Hash // nginx:latest
	multi    v1.Hash // nginx:multi, an index of linux/amd64 and linux/arm64
	amd64    v1.Hash // its linux/amd64 image
	referrer v1.Hash // an SBOM whose subject is nginx:latest
}

// pushImages pushes, with go-containerregistry as admin: nginx:latest,
// nginx:1.25, nginx:1.9 and nginx:multi, centos:7 and alpine:3.19, and a
// referrer of nginx:latest.
func pushImages(t *testing.T, host string) fixture {
	t.Helper()
	opts := []remote.Option{remote.WithAuth(&authn.Basic{Username: admin.user, Password: admin.password})}
	put := func(ref string, img v1.Image) v1.Hash {
		t.Helper()
		r, err := name.ParseReference(host+"/"+ref, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(r, img, opts...); err != nil {
			t.Fatalf("push %s: %v", ref, err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	var f fixture
	f.latest = put("nginx:latest", image(t, "linux", "amd64", 2024))
	put("nginx:1.25", image(t, "linux", "amd64", 2023))
	put("nginx:1.9", image(t, "linux", "amd64", 2019))
	put("centos:7", image(t, "linux", "amd64", 2020))
	put("alpine:3.19", image(t, "linux", "arm64", 2022))

	amd, arm := image(t, "linux", "amd64", 2025), image(t, "linux", "arm64", 2025)
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
	)
	r, err := name.ParseReference(host+"/nginx:multi", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(r, idx, opts...); err != nil {
		t.Fatalf("push nginx:multi: %v", err)
	}
	if f.multi, err = idx.Digest(); err != nil {
		t.Fatal(err)
	}
	if f.amd64, err = amd.Digest(); err != nil {
		t.Fatal(err)
	}
	f.referrer = pushReferrer(t, host, f.latest, opts)
	return f
}

// image is a random two-layer image with a config worth showing.
func image(t *testing.T, os, arch string, year int) v1.Image {
	t.Helper()
	img, err := random.Image(1500, 2)
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = os, arch
	cf.Created = v1.Time{Time: time.Date(year, 6, 1, 12, 0, 0, 0, time.UTC)}
	cf.Config.Entrypoint = []string{"/docker-entrypoint.sh"}
	cf.Config.Cmd = []string{"nginx", "-g", "daemon off;"}
	cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/bin", "NGINX_VERSION=1.25.3"}
	cf.Config.Labels = map[string]string{"org.opencontainers.image.title": "ui-fixture"}
	cf.History = []v1.History{{CreatedBy: "ADD rootfs.tar /"}, {CreatedBy: "RUN make install"}}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// rawManifest is a manifest pushed as it is.
type rawManifest struct {
	body []byte
	mt   types.MediaType
}

func (m rawManifest) RawManifest() ([]byte, error)        { return m.body, nil }
func (m rawManifest) MediaType() (types.MediaType, error) { return m.mt, nil }

// pushReferrer pushes an OCI artifact (artifactType sbomType) whose
// subject is the manifest subject of nginx, by digest, as oras attach does.
func pushReferrer(t *testing.T, host string, subject v1.Hash, opts []remote.Option) v1.Hash {
	t.Helper()
	repo, err := name.NewRepository(host+"/nginx", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	cfg := static.NewLayer([]byte("{}"), "application/vnd.oci.empty.v1+json")
	sbom := static.NewLayer([]byte(`{"spdxVersion":"SPDX-2.3"}`), "application/spdx+json")
	for _, l := range []v1.Layer{cfg, sbom} {
		if err := remote.WriteLayer(repo, l, opts...); err != nil {
			t.Fatalf("push referrer blob: %v", err)
		}
	}
	subjectDesc, err := remote.Head(repo.Digest(subject.String()), opts...)
	if err != nil {
		t.Fatal(err)
	}
	desc := func(l v1.Layer) map[string]any {
		d, _ := l.Digest()
		n, _ := l.Size()
		mt, _ := l.MediaType()
		return map[string]any{"mediaType": mt, "digest": d.String(), "size": n}
	}
	body, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     types.OCIManifestSchema1,
		"artifactType":  sbomType,
		"config":        desc(cfg),
		"layers":        []any{desc(sbom)},
		"subject":       map[string]any{"mediaType": subjectDesc.MediaType, "digest": subject.String(), "size": subjectDesc.Size},
	})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	d := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	if err := remote.Put(repo.Digest(d.String()), rawManifest{body, types.OCIManifestSchema1}, opts...); err != nil {
		t.Fatalf("push referrer: %v", err)
	}
	return d
}

// tagExists asks the registry's API, as admin, whether repo:tag resolves.
func tagExists(t *testing.T, host, ref string) bool {
	t.Helper()
	r, err := name.ParseReference(host+"/"+ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	_, err = remote.Head(r, remote.WithAuth(&authn.Basic{Username: admin.user, Password: admin.password}))
	var te *transport.Error
	switch {
	case err == nil:
		return true
	case errors.As(err, &te) && te.StatusCode == http.StatusNotFound:
		return false
	}
	t.Fatalf("HEAD %s: %v", ref, err)
	return false
}
