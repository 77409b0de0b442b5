package integration

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// sbomType is the artifactType of the referrer the tests attach.
const sbomType = "application/vnd.wharf.test.sbom.v1+json"

// TestTokenFlowWithGoContainerRegistry drives the token flow end to end with
// go-containerregistry, for both signing-key types and both kid forms: the
// client is sent from the registry to the auth server's realm, and what the
// ACL grants is exactly what the registry then allows.
func TestTokenFlowWithGoContainerRegistry(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		kind keyKind
		kid  string
	}{
		{rsa2048, "libtrust"},
		{p256, "jwk-thumbprint"},
	} {
		t.Run(fmt.Sprintf("%s key with %s kid", tc.kind, tc.kid), func(t *testing.T) {
			stack := startTokenStack(t, tc.kind, tc.kid)
			t.Run("registry sends clients to the auth server's realm", func(t *testing.T) {
				resp, body := httpGet(t, stack.registry.URL("http")+"/v2/team/app/tags/list", "", "")
				want := fmt.Sprintf(`Bearer realm="%s/auth",service="%s",scope="repository:team/app:pull"`, stack.auth.URL("http"), testService)
				if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != want {
					t.Errorf("GET /v2/team/app/tags/list without a token: %s, WWW-Authenticate %q; want 401 with %q",
						resp.Status, resp.Header.Get("WWW-Authenticate"), want)
				}
				wantOCIError(t, resp, body, "UNAUTHORIZED")
			})
			testTokenFlow(t, stack.registry.Host())
		})
	}
}

func testTokenFlow(t *testing.T, host string) {
	adminClient := newClient(t, admin, nil)
	pullerClient := newClient(t, puller, nil)
	appTag := ref(t, host+"/team/app:v1")

	img, err := random.Image(4096, 3)
	if err != nil {
		t.Fatal(err)
	}
	imgDigest, _ := img.Digest()

	t.Run("admin pushes an image and pulls it back by tag and digest", func(t *testing.T) {
		if err := remote.Write(appTag, img, adminClient.opts...); err != nil {
			t.Fatalf("push: %v", err)
		}
		for _, r := range []name.Reference{appTag, digestRef(t, host, "team/app", imgDigest)} {
			got, err := remote.Image(r, adminClient.opts...)
			if err != nil {
				t.Fatalf("pull %s: %v", r, err)
			}
			assertSameImage(t, img, got)
		}
	})

	t.Run("admin pushes a multi-arch index and pulls each platform", func(t *testing.T) {
		platforms := []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64", Variant: "v8"}}
		var idx v1.ImageIndex = empty.Index
		children := map[v1.Hash]v1.Image{}
		for _, p := range platforms {
			child := ociImage(t, p)
			d, _ := child.Digest()
			children[d] = child
			idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: child, Descriptor: v1.Descriptor{Platform: &p}})
		}
		multiTag := ref(t, host+"/team/multi:latest")
		if err := remote.WriteIndex(multiTag, idx, adminClient.opts...); err != nil {
			t.Fatalf("push index: %v", err)
		}
		gotIdx, err := remote.Index(multiTag, adminClient.opts...)
		if err != nil {
			t.Fatalf("pull index: %v", err)
		}
		wantDigest, _ := idx.Digest()
		if d, _ := gotIdx.Digest(); d != wantDigest {
			t.Errorf("pulled index digest %s, pushed %s", d, wantDigest)
		}
		for _, p := range platforms {
			got, err := remote.Image(multiTag, adminClient.with(remote.WithPlatform(p))...)
			if err != nil {
				t.Fatalf("pull %s for %s: %v", multiTag, p, err)
			}
			d, _ := got.Digest()
			want, ok := children[d]
			if !ok {
				t.Fatalf("platform %s resolved to %s, which is not one of the pushed children", p, d)
			}
			if cf, _ := want.ConfigFile(); cf.Architecture != p.Architecture {
				t.Errorf("platform %s resolved to the %s image", p, cf.Architecture)
			}
			assertSameImage(t, want, got)
		}
	})

	t.Run("admin attaches a referrer and lists it through the referrers API", func(t *testing.T) {
		subject, err := partial.Descriptor(img)
		if err != nil {
			t.Fatal(err)
		}
		art := sbomArtifact(t, *subject)
		artDigest, _ := art.Digest()
		// Without the tag fallback, go-containerregistry requires the
		// registry to acknowledge the subject (OCI-Subject) and to serve
		// GET /v2/<name>/referrers/<digest>.
		noFallback := remote.WithReferrersTagFallback(false)
		if err := remote.Write(digestRef(t, host, "team/app", artDigest), art, adminClient.with(noFallback)...); err != nil {
			t.Fatalf("push referrer: %v", err)
		}
		idx, err := remote.Referrers(digestRef(t, host, "team/app", imgDigest), adminClient.with(noFallback)...)
		if err != nil {
			t.Fatalf("list referrers: %v", err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		if len(im.Manifests) != 1 {
			t.Fatalf("referrers of %s: %+v; want exactly the artifact %s", imgDigest, im.Manifests, artDigest)
		}
		got := im.Manifests[0]
		if got.Digest != artDigest || got.ArtifactType != sbomType || got.MediaType != types.OCIManifestSchema1 {
			t.Errorf("referrer descriptor %+v; want digest %s, artifactType %s, mediaType %s", got, artDigest, sbomType, types.OCIManifestSchema1)
		}
	})

	t.Run("pull-only user pulls", func(t *testing.T) {
		got, err := remote.Image(appTag, pullerClient.opts...)
		if err != nil {
			t.Fatalf("pull as %s: %v", puller.name, err)
		}
		assertSameImage(t, img, got)
	})

	t.Run("pull-only user cannot push", func(t *testing.T) {
		other, err := random.Image(1024, 1)
		if err != nil {
			t.Fatal(err)
		}
		err = remote.Write(appTag, other, pullerClient.opts...)
		wantHTTPError(t, "push as "+puller.name, err, 401, transport.UnauthorizedErrorCode)
		desc, err := remote.Head(appTag, adminClient.opts...)
		if err != nil {
			t.Fatalf("HEAD %s after the refused push: %v", appTag, err)
		}
		if desc.Digest != imgDigest {
			t.Errorf("%s now points at %s; the refused push must leave it at %s", appTag, desc.Digest, imgDigest)
		}
	})

	t.Run("anonymous pull is refused when the ACL grants anonymous nothing", func(t *testing.T) {
		_, err := remote.Image(appTag, newClient(t, account{}, nil).opts...)
		wantHTTPError(t, "anonymous pull", err, 401, transport.UnauthorizedErrorCode)
	})

	t.Run("wrong password is refused by the token server", func(t *testing.T) {
		_, err := remote.Image(appTag, newClient(t, account{admin.name, "not-" + admin.password}, nil).opts...)
		wantHTTPError(t, "pull with a wrong password", err, 401, "")
	})

	// The catalog lists what each account may pull (README "The catalog
	// shows each account what it may pull"): admin by its catalog rule,
	// puller (no catalog rule, pull on every repository) everything too,
	// anonymous (no rule at all) nothing.
	t.Run("catalog lists what each account may pull", func(t *testing.T) {
		reg, err := name.NewRegistry(host, name.StrictValidation)
		if err != nil {
			t.Fatal(err)
		}
		all := []string{"team/app", "team/multi"}
		for _, c := range []struct {
			who  string
			opts []remote.Option
			want []string
		}{
			{admin.name, adminClient.opts, all},
			{puller.name, pullerClient.opts, all},
			{"anonymous", nil, []string{}},
		} {
			repos, err := remote.Catalog(context.Background(), reg, c.opts...)
			if err != nil {
				t.Fatalf("catalog as %s: %v", c.who, err)
			}
			if !slices.Equal(repos, c.want) {
				t.Errorf("catalog as %s: %q, want %q", c.who, repos, c.want)
			}
		}
	})
}

// ociImage is a small OCI image (OCI manifest, config and layer media types)
// for platform p.
func ociImage(t *testing.T, p v1.Platform) v1.Image {
	t.Helper()
	layer, err := random.Layer(2048, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.AppendLayers(img, layer)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// sbomArtifact is an OCI artifact packaged as an image manifest whose config
// media type is its artifactType, attached to subject.
func sbomArtifact(t *testing.T, subject v1.Descriptor) v1.Image {
	t.Helper()
	body := static.NewLayer([]byte(`{"packages":["wharf"]}`), "application/vnd.wharf.test.sbom.layer.v1+json")
	art := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), sbomType)
	art, err := mutate.AppendLayers(art, body)
	if err != nil {
		t.Fatal(err)
	}
	withSubject, ok := mutate.Subject(art, subject).(v1.Image)
	if !ok {
		t.Fatal("mutate.Subject of an image is not an image")
	}
	return withSubject
}
