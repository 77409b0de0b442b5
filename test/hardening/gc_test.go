package hardening

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/pkg/manifest"
	"github.com/wharf-registry/wharf/pkg/storage"
)

// age sets the modification time of everything under root to d ago, as if
// it had been pushed then.
func age(t *testing.T, root string, d time.Duration) {
	t.Helper()
	then := time.Now().Add(-d)
	err := filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chtimes(p, then, then)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// collect runs one garbage collection the way the registry's scheduler
// does, with the default grace period.
func (r *registry) collect(t *testing.T) storage.GCResult {
	t.Helper()
	res, err := r.srv.CollectGarbage(context.Background(), storage.GCOptions{DeleteUntagged: true, GracePeriod: time.Hour})
	if err != nil {
		t.Fatalf("garbage collection: %v", err)
	}
	return res
}

// TestContentAClientWasToldExistsSurvivesACollection is the push that
// registry:2's online collection breaks: a client asks whether a blob or a
// child manifest is there (HEAD, 200), skips uploading it, and a
// collection runs before its manifest arrives. The content is old and
// unreferenced, yet the manifest must be accepted.
func TestContentAClientWasToldExistsSurvivesACollection(t *testing.T) {
	const repo = "team/app"
	config := []byte(`{"architecture":"amd64","os":"linux","old":true}`)
	layer := []byte("a layer left by an aborted push long ago")
	cd, ld := digest.FromBytes(config), digest.FromBytes(layer)
	child := imageManifest(cd, len(config), ld, len(layer))
	childDigest := digest.FromBytes(child)
	// setup leaves old, unreferenced blobs and an old, untagged manifest.
	setup := func(t *testing.T) *registry {
		reg := newRegistry(t, nil)
		reg.pushBlob(t, nil, repo, config)
		reg.pushBlob(t, nil, repo, layer)
		if resp, body := do(t, reg.URL, request{method: "PUT", path: "/v2/" + repo + "/manifests/" + childDigest.String(), body: child,
			header: map[string]string{"Content-Type": manifest.MediaTypeOCIManifest}}); resp.StatusCode != http.StatusCreated {
			t.Fatalf("push the untagged child: %d %s", resp.StatusCode, body)
		}
		age(t, reg.root, 2*time.Hour)
		return reg
	}

	t.Run("blobs", func(t *testing.T) {
		reg := setup(t)
		for _, d := range []digest.Digest{cd, ld} {
			if resp, _ := do(t, reg.URL, request{method: "HEAD", path: "/v2/" + repo + "/blobs/" + d.String()}); resp.StatusCode != http.StatusOK {
				t.Fatalf("HEAD %s: %d", d, resp.StatusCode)
			}
		}
		reg.collect(t)
		body := append(child[:len(child)-1:len(child)-1], []byte(`,"annotations":{"v":"2"}}`)...)
		resp, got := do(t, reg.URL, request{method: "PUT", path: "/v2/" + repo + "/manifests/v2", body: body,
			header: map[string]string{"Content-Type": manifest.MediaTypeOCIManifest}})
		if resp.StatusCode != http.StatusCreated {
			t.Errorf("manifest naming blobs the client was told exist: %d %s", resp.StatusCode, got)
		}
	})
	t.Run("a child manifest", func(t *testing.T) {
		reg := setup(t)
		if resp, _ := do(t, reg.URL, request{method: "HEAD", path: "/v2/" + repo + "/manifests/" + childDigest.String(),
			header: map[string]string{"Accept": manifest.MediaTypeOCIManifest}}); resp.StatusCode != http.StatusOK {
			t.Fatalf("HEAD child: %d", resp.StatusCode)
		}
		reg.collect(t)
		index := []byte(`{"schemaVersion":2,"mediaType":"` + manifest.MediaTypeOCIIndex + `","manifests":[{"mediaType":"` +
			manifest.MediaTypeOCIManifest + `","digest":"` + childDigest.String() + `","size":` + strconv.Itoa(len(child)) +
			`,"platform":{"architecture":"amd64","os":"linux"}}]}`)
		resp, got := do(t, reg.URL, request{method: "PUT", path: "/v2/" + repo + "/manifests/multi", body: index,
			header: map[string]string{"Content-Type": manifest.MediaTypeOCIIndex}})
		if resp.StatusCode != http.StatusCreated {
			t.Errorf("index naming a child the client was told exists: %d %s", resp.StatusCode, got)
		}
	})
	t.Run("control: what nobody asked about is collected", func(t *testing.T) {
		reg := setup(t)
		if res := reg.collect(t); res.BlobsDeleted != 3 || res.ManifestsDeleted != 1 {
			t.Errorf("collected %d blobs and %d manifests, want 3 and 1: %v", res.BlobsDeleted, res.ManifestsDeleted, res.Deleted)
		}
	})
}

// platforms of the multi-arch images the GC loop test pushes.
var platforms = []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64", Variant: "v8"}}

// platformImage is base plus one new layer, configured for p.
func platformImage(t *testing.T, base v1.Image, p v1.Platform) v1.Image {
	t.Helper()
	layer, err := random.Layer(2048, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(base, layer)
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

// sbom is an artifact attached to subject.
func sbom(t *testing.T, subject v1.Descriptor, seed string) v1.Image {
	t.Helper()
	art := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), "application/vnd.hardening.sbom.v1+json")
	art, err := mutate.AppendLayers(art, static.NewLayer([]byte(`{"of":"`+seed+`"}`), "application/vnd.hardening.sbom.layer.v1+json"))
	if err != nil {
		t.Fatal(err)
	}
	return mutate.Subject(art, subject).(v1.Image)
}

// TestCollectingInALoopWhilePushingLosesNothing runs garbage collection
// back to back while clients push multi-arch indexes with referrers that
// reuse old, unreferenced base layers (which the clients find present and
// skip): no push fails, and afterwards, once everything is old and
// collected again, every tag pulls, every layer verifies and every
// referrer is listed.
func TestCollectingInALoopWhilePushingLosesNothing(t *testing.T) {
	reg := newRegistry(t, nil)
	host := strings.TrimPrefix(reg.URL, "http://")
	ref := func(s string) name.Reference {
		r, err := name.ParseReference(host+"/"+s, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	const pushers, rounds = 3, 3
	noFallback := remote.WithReferrersTagFallback(false)

	// Each pusher's repository holds an old base image whose manifest was
	// deleted: its layers are unreferenced, and older than the grace period.
	bases := make([]v1.Image, pushers)
	for g := range bases {
		base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
		for range 2 {
			l, err := random.Layer(4096, types.OCILayer)
			if err != nil {
				t.Fatal(err)
			}
			if base, err = mutate.AppendLayers(base, l); err != nil {
				t.Fatal(err)
			}
		}
		repo := "team/p" + strconv.Itoa(g)
		if err := remote.Write(ref(repo+":base"), base); err != nil {
			t.Fatal(err)
		}
		d, _ := base.Digest()
		if err := remote.Delete(ref(repo + "@" + d.String())); err != nil {
			t.Fatal(err)
		}
		bases[g] = base
	}
	reg.pushBlob(t, nil, "junk", []byte("garbage nobody references"))
	age(t, reg.root, 2*time.Hour)

	done := make(chan struct{})
	gcDone := make(chan error, 1)
	collections, removed := 0, 0
	go func() {
		defer close(gcDone)
		for {
			res, err := reg.srv.CollectGarbage(context.Background(), storage.GCOptions{DeleteUntagged: true, GracePeriod: time.Hour})
			if err != nil {
				gcDone <- err
				return
			}
			collections++
			removed += res.BlobsDeleted
			select {
			case <-done:
				return
			default:
			}
		}
	}()

	type pushed struct {
		tag       string
		index     v1.ImageIndex
		referrers []v1.Hash
	}
	results := make([][]pushed, pushers)
	var wg sync.WaitGroup
	for g := range pushers {
		wg.Go(func() {
			repo := "team/p" + strconv.Itoa(g)
			for i := range rounds {
				var idx v1.ImageIndex = empty.Index
				for _, p := range platforms {
					idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: platformImage(t, bases[g], p), Descriptor: v1.Descriptor{Platform: &p}})
				}
				tag := "v" + strconv.Itoa(i)
				if err := remote.WriteIndex(ref(repo+":"+tag), idx); err != nil {
					t.Errorf("push %s:%s: %v", repo, tag, err)
					continue
				}
				subject, err := partial.Descriptor(idx)
				if err != nil {
					t.Error(err)
					continue
				}
				art := sbom(t, *subject, repo+tag)
				ad, _ := art.Digest()
				if err := remote.Write(ref(repo+"@"+ad.String()), art, noFallback); err != nil {
					t.Errorf("push the referrer of %s:%s: %v", repo, tag, err)
					continue
				}
				results[g] = append(results[g], pushed{tag, idx, []v1.Hash{ad}})
			}
		})
	}
	wg.Wait()
	close(done)
	if err := <-gcDone; err != nil {
		t.Fatalf("garbage collection: %v", err)
	}
	t.Logf("%d collections ran during the pushes, removing %d blobs", collections, removed)
	if collections < 2 {
		t.Errorf("only %d collections overlapped the pushes", collections)
	}

	age(t, reg.root, 2*time.Hour)
	reg.collect(t)
	for g, list := range results {
		repo := "team/p" + strconv.Itoa(g)
		if len(list) != rounds {
			t.Errorf("%s: %d of %d pushes succeeded", repo, len(list), rounds)
		}
		for _, p := range list {
			verifyIndex(t, ref(repo+":"+p.tag), p.index)
			want, _ := p.index.Digest()
			refs, err := remote.Referrers(ref(repo+"@"+want.String()).(name.Digest), noFallback)
			if err != nil {
				t.Errorf("referrers of %s:%s: %v", repo, p.tag, err)
				continue
			}
			im, _ := refs.IndexManifest()
			if len(im.Manifests) != 1 || im.Manifests[0].Digest != p.referrers[0] {
				t.Errorf("referrers of %s:%s: %+v, want %s", repo, p.tag, im.Manifests, p.referrers[0])
				continue
			}
			verifyImage(t, ref(repo+"@"+p.referrers[0].String()))
		}
	}
	if problems, err := reg.store.Fsck(context.Background()); err != nil || len(problems) != 0 {
		t.Errorf("fsck: %v %v", problems, err)
	}
}

// verifyIndex pulls r as an index equal to want and every child with all
// its blobs.
func verifyIndex(t *testing.T, r name.Reference, want v1.ImageIndex) {
	t.Helper()
	got, err := remote.Index(r)
	if err != nil {
		t.Errorf("pull %s: %v", r, err)
		return
	}
	wd, _ := want.Digest()
	if gd, _ := got.Digest(); gd != wd {
		t.Errorf("%s is %s, pushed %s", r, gd, wd)
	}
	im, err := got.IndexManifest()
	if err != nil {
		t.Errorf("%s: %v", r, err)
		return
	}
	for _, c := range im.Manifests {
		verifyImage(t, r.Context().Digest(c.Digest.String()))
	}
}

// verifyImage pulls r with its config and every layer, which
// go-containerregistry checks against their digests as it reads them.
func verifyImage(t *testing.T, r name.Reference) {
	t.Helper()
	img, err := remote.Image(r)
	if err == nil {
		_, err = img.RawConfigFile() // verified against the config digest
	}
	if err != nil {
		t.Errorf("pull %s: %v", r, err)
		return
	}
	layers, err := img.Layers()
	if err != nil {
		t.Errorf("layers of %s: %v", r, err)
		return
	}
	for _, l := range layers {
		rc, err := l.Compressed()
		if err == nil {
			_, err = io.Copy(io.Discard, rc)
			rc.Close()
		}
		if err != nil {
			d, _ := l.Digest()
			t.Errorf("%s: layer %s: %v", r, d, err)
		}
	}
}
