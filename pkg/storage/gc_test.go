package storage

import (
	"context"
	"errors"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/pkg/manifest"
)

func layerLink(root, repo string, d digest.Digest) string {
	return v2(root, "repositories", repo, "_layers", d.Algorithm().String(), d.Encoded(), "link")
}

func TestGCRemovesOldUnreferencedBlobsOnly(t *testing.T) {
	s, root := newStore(t)
	ctx := context.Background()
	img := pushImage(t, s, "app", "v1", "kept")
	oldA := pushBlob(t, s, "app", []byte("orphan a"))
	oldB := pushBlob(t, s, "scratch", []byte("orphan b, longer"))
	linkYoung := pushBlob(t, s, "app", []byte("old data, fresh link"))
	ageAll(t, root, 2*time.Hour)
	young := pushBlob(t, s, "app", []byte("orphan pushed just now"))
	now := time.Now()
	os.Chtimes(layerLink(root, "app", linkYoung.Digest), now, now)

	res, err := s.GarbageCollect(ctx, GCOptions{GracePeriod: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	wantDeleted := []string{"blob " + oldA.Digest.String(), "blob " + oldB.Digest.String()}
	sort.Strings(wantDeleted)
	sort.Strings(res.Deleted)
	if strings.Join(res.Deleted, ",") != strings.Join(wantDeleted, ",") || res.BlobsDeleted != 2 || res.ManifestsDeleted != 0 {
		t.Fatalf("GC result %+v, want deleted %v", res, wantDeleted)
	}
	if res.BytesFreed != oldA.Size+oldB.Size {
		t.Errorf("BytesFreed = %d, want %d", res.BytesFreed, oldA.Size+oldB.Size)
	}
	for _, d := range []Descriptor{oldA, oldB} {
		if exists(blobFile(root, d.Digest)) {
			t.Errorf("%s data survived", d.Digest)
		}
	}
	for repo, d := range map[string]Descriptor{"app": oldA, "scratch": oldB} {
		if exists(layerLink(root, repo, d.Digest)) {
			t.Errorf("link to deleted %s left in %s", d.Digest, repo)
		}
	}
	for _, d := range []Descriptor{young, linkYoung} {
		if _, err := s.StatBlob(ctx, "app", d.Digest); err != nil {
			t.Errorf("young %s deleted: %v", d.Digest, err)
		}
	}
	if err := readable(t, s, "app", "v1"); err != nil {
		t.Errorf("tagged image damaged: %v", err)
	}
	if _, err := s.GetManifest(ctx, "app", img.Manifest.Digest.String()); err != nil {
		t.Error(err)
	}
}

// schema1Image writes, as registry:2 would have, a signed schema1 manifest
// tagged "legacy" in repo, and returns its layer digests.
func schema1Image(t *testing.T, root, repo string) []digest.Digest {
	l1, l2 := []byte("schema1 layer one"), []byte("schema1 layer two")
	body := []byte(`{"schemaVersion":1,"name":"` + repo + `","tag":"legacy","architecture":"amd64","fsLayers":[{"blobSum":"` +
		sha256Of(l1).String() + `"},{"blobSum":"` + sha256Of(l2).String() + `"}],"history":[],"signatures":[{"header":{}}]}`)
	m := sha256Of(body)
	for _, b := range [][]byte{l1, l2, body} {
		writeFile(t, blobFile(root, sha256Of(b)), b)
	}
	r := v2(root, "repositories", repo)
	for _, b := range [][]byte{l1, l2} {
		writeFile(t, layerLink(root, repo, sha256Of(b)), []byte(sha256Of(b).String()))
	}
	writeFile(t, r+"/_manifests/revisions/sha256/"+m.Encoded()+"/link", []byte(m.String()))
	writeFile(t, r+"/_manifests/tags/legacy/current/link", []byte(m.String()))
	return []digest.Digest{sha256Of(l1), sha256Of(l2), m}
}

func TestGCDeleteUntaggedKeepsIndexChildrenAndReferrers(t *testing.T) {
	s, root := newStore(t)
	ctx := context.Background()
	amd := pushImage(t, s, "app", "", "amd64")
	arm := pushImage(t, s, "app", "", "arm64")
	idx := putManifest(t, s, "app", "multi", manifest.MediaTypeOCIIndex, indexBody(manifest.MediaTypeOCIIndex, amd.Manifest, arm.Manifest))
	empty := pushBlob(t, s, "app", []byte("{}"))
	sig := putManifest(t, s, "app", "", manifest.MediaTypeOCIManifest,
		imageBody(manifest.MediaTypeOCIManifest, empty, nil, &amd.Manifest, "application/vnd.example.sig"))
	sigOfSig := putManifest(t, s, "app", "", manifest.MediaTypeOCIManifest,
		imageBody(manifest.MediaTypeOCIManifest, empty, nil, &sig, "application/vnd.example.sig"))
	idxSig := putManifest(t, s, "app", "", manifest.MediaTypeOCIManifest,
		imageBody(manifest.MediaTypeOCIManifest, empty, nil, &idx, "application/vnd.example.sbom"))
	stale := pushImage(t, s, "app", "", "stale")
	staleSig := putManifest(t, s, "app", "", manifest.MediaTypeOCIManifest,
		imageBody(manifest.MediaTypeOCIManifest, empty, nil, &stale.Manifest, "application/vnd.example.sig"))
	legacy := schema1Image(t, root, "app")
	ageAll(t, root, 2*time.Hour)

	res, err := s.GarbageCollect(ctx, GCOptions{DeleteUntagged: true, GracePeriod: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if res.ManifestsDeleted != 2 || res.BlobsDeleted != 4 {
		t.Errorf("deleted %d manifests, %d blobs; want 2 and 4: %v", res.ManifestsDeleted, res.BlobsDeleted, res.Deleted)
	}
	for _, d := range []Descriptor{stale.Manifest, staleSig} {
		if _, err := s.GetManifest(ctx, "app", d.Digest.String()); !errors.Is(err, ErrManifestUnknown) {
			t.Errorf("untagged %s survived: %v", d.Digest, err)
		}
		if !slices.Contains(res.Deleted, "manifest app@"+d.Digest.String()) {
			t.Errorf("result does not list manifest %s", d.Digest)
		}
	}
	for _, d := range stale.Blobs {
		if exists(blobFile(root, d.Digest)) {
			t.Errorf("blob %s of the deleted manifest survived", d.Digest)
		}
	}
	for name, d := range map[string]Descriptor{"amd64 child": amd.Manifest, "arm64 child": arm.Manifest, "referrer": sig, "referrer of referrer": sigOfSig, "referrer of index": idxSig} {
		if _, err := s.GetManifest(ctx, "app", d.Digest.String()); err != nil {
			t.Errorf("%s deleted: %v", name, err)
		}
	}
	for _, img := range []image{amd, arm} {
		for _, b := range img.Blobs {
			if _, err := s.StatBlob(ctx, "app", b.Digest); err != nil {
				t.Errorf("blob of a kept child deleted: %v", err)
			}
		}
	}
	if refs, _, err := s.Referrers(ctx, "app", amd.Manifest.Digest, "", "", 1000); err != nil || len(refs) != 1 || refs[0].Digest != sig.Digest {
		t.Errorf("Referrers after GC = %+v, %v", refs, err)
	}
	if err := readable(t, s, "app", "multi"); err != nil {
		t.Error(err)
	}
	for _, d := range legacy {
		if !exists(blobFile(root, d)) {
			t.Errorf("schema1 content %s deleted", d)
		}
	}
	if problems, err := s.Fsck(ctx); err != nil || len(problems) != 0 {
		t.Errorf("Fsck after GC = %v, %v", problems, err)
	}
}

func TestGCKeepsUntaggedManifestsUnlessAsked(t *testing.T) {
	s, root := newStore(t)
	ctx := context.Background()
	old := pushImage(t, s, "app", "", "old untagged")
	ageAll(t, root, 2*time.Hour)
	young := pushImage(t, s, "app", "", "young untagged")

	res, err := s.GarbageCollect(ctx, GCOptions{GracePeriod: time.Hour})
	if err != nil || res.ManifestsDeleted+res.BlobsDeleted != 0 {
		t.Fatalf("GC without DeleteUntagged removed %v (%v)", res.Deleted, err)
	}
	res, err = s.GarbageCollect(ctx, GCOptions{DeleteUntagged: true, GracePeriod: time.Hour})
	if err != nil || res.ManifestsDeleted != 1 || res.BlobsDeleted != 3 {
		t.Fatalf("GC = %+v, %v; want the old manifest and its two blobs", res, err)
	}
	if _, err := s.GetManifest(ctx, "app", old.Manifest.Digest.String()); !errors.Is(err, ErrManifestUnknown) {
		t.Errorf("old untagged manifest kept: %v", err)
	}
	if _, err := s.GetManifest(ctx, "app", young.Manifest.Digest.String()); err != nil {
		t.Errorf("young untagged manifest deleted: %v", err)
	}
	repos, _, _ := s.Catalog(ctx, "", -1)
	if len(repos) != 1 {
		t.Errorf("Catalog = %v", repos)
	}
}

func TestGCDryRunDeletesNothingAndListsWhatWouldGo(t *testing.T) {
	s, root := newStore(t)
	ctx := context.Background()
	pushImage(t, s, "app", "v1", "kept")
	pushImage(t, s, "app", "", "untagged")
	pushBlob(t, s, "app", []byte("orphan"))
	ageAll(t, root, 2*time.Hour)
	before := listTree(t, root)

	dry, err := s.GarbageCollect(ctx, GCOptions{DryRun: true, DeleteUntagged: true, GracePeriod: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if after := listTree(t, root); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Fatal("dry run changed the store")
	}
	if len(dry.Deleted) == 0 {
		t.Fatal("dry run lists nothing")
	}
	real, err := s.GarbageCollect(ctx, GCOptions{DeleteUntagged: true, GracePeriod: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(dry.Deleted)
	sort.Strings(real.Deleted)
	if strings.Join(dry.Deleted, "\n") != strings.Join(real.Deleted, "\n") || dry.BytesFreed != real.BytesFreed {
		t.Fatalf("dry run listed\n%v\nreal run deleted\n%v", dry.Deleted, real.Deleted)
	}
}

func TestGCRemovesOldLinksToMissingBlobs(t *testing.T) {
	s, root := newStore(t)
	ctx := context.Background()
	d := pushBlob(t, s, "app", []byte("data removed by hand"))
	os.RemoveAll(v2(root, "blobs"))
	ageAll(t, root, 2*time.Hour)
	res, err := s.GarbageCollect(ctx, GCOptions{GracePeriod: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if exists(layerLink(root, "app", d.Digest)) || len(res.Deleted) != 1 {
		t.Fatalf("dangling link kept; result %+v", res)
	}
}

func TestGCStopsOnAnUnreadableManifestRatherThanGuess(t *testing.T) {
	s, root := newStore(t)
	ctx := context.Background()
	img := pushImage(t, s, "app", "v1", "x")
	os.WriteFile(blobFile(root, img.Manifest.Digest), []byte("garbage"), 0o644)
	ageAll(t, root, 2*time.Hour)
	if _, err := s.GarbageCollect(ctx, GCOptions{GracePeriod: time.Hour}); err == nil {
		t.Fatal("GC ran over a manifest it cannot read")
	}
	for _, b := range img.Blobs {
		if !exists(blobFile(root, b.Digest)) {
			t.Errorf("blob %s deleted", b.Digest)
		}
	}
}
