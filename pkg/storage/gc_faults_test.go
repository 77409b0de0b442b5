package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/pkg/manifest"
)

// gcFixture is a store where a collection has work to do (an old untagged
// image, an orphan blob) next to what it must keep: tagged images, an index
// with untagged children, a referrer of a tagged image.
type gcFixture struct {
	root            string
	stale, referrer Descriptor
}

// newGCFixture builds the fixture; copy makes fresh copies of it, cheaper
// than building one per case (building fsyncs dozens of files).
func newGCFixture(t *testing.T) gcFixture {
	t.Helper()
	s, root := newStore(t)
	v1 := pushImage(t, s, "app", "v1", "tagged")
	amd := pushImage(t, s, "app", "", "amd64")
	arm := pushImage(t, s, "app", "", "arm64")
	putManifest(t, s, "app", "multi", manifest.MediaTypeOCIIndex, indexBody(manifest.MediaTypeOCIIndex, amd.Manifest, arm.Manifest))
	empty := pushBlob(t, s, "app", []byte("{}"))
	sig := putManifest(t, s, "app", "", manifest.MediaTypeOCIManifest,
		imageBody(manifest.MediaTypeOCIManifest, empty, nil, &v1.Manifest, "application/vnd.example.sig"))
	stale := pushImage(t, s, "app", "", "stale")
	pushImage(t, s, "team/web", "latest", "web")
	pushBlob(t, s, "team/web", []byte("orphan"))
	ageAll(t, root, 2*time.Hour)
	return gcFixture{root: root, stale: stale.Manifest, referrer: sig}
}

// copy returns a copy of f in a fresh directory, as old as f.
func (f gcFixture) copy(t *testing.T) gcFixture {
	t.Helper()
	c := f
	c.root = t.TempDir()
	if err := os.CopyFS(c.root, os.DirFS(f.root)); err != nil {
		t.Fatal(err)
	}
	ageAll(t, c.root, 2*time.Hour)
	return c
}

// checkLive fails unless everything a collection must keep is intact, and,
// when untaggedKept, the old untagged image too.
func (f gcFixture) checkLive(t *testing.T, untaggedKept bool) {
	t.Helper()
	s, err := NewFilesystem(f.root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []struct{ repo, tag string }{{"app", "v1"}, {"app", "multi"}, {"team/web", "latest"}} {
		if err := readable(t, s, ref.repo, ref.tag); err != nil {
			t.Errorf("%s:%s damaged: %v", ref.repo, ref.tag, err)
		}
	}
	if err := readable(t, s, "app", f.referrer.Digest.String()); err != nil {
		t.Errorf("referrer of app:v1 damaged: %v", err)
	}
	if untaggedKept {
		if err := readable(t, s, "app", f.stale.Digest.String()); err != nil {
			t.Errorf("untagged image deleted without DeleteUntagged: %v", err)
		}
	}
}

func TestGCFixtureHasGarbage(t *testing.T) {
	template := newGCFixture(t)
	for _, untagged := range []bool{false, true} {
		f := template.copy(t)
		s, _ := NewFilesystem(f.root, Options{})
		res, err := s.GarbageCollect(context.Background(), GCOptions{DeleteUntagged: untagged, GracePeriod: time.Hour})
		if err != nil || res.BlobsDeleted == 0 || untagged && res.ManifestsDeleted != 1 {
			t.Fatalf("fault-free GC (untagged=%v) = %+v, %v: the fault tests would prove nothing", untagged, res, err)
		}
		f.checkLive(t, !untagged)
	}
}

// TestGCFailsClosedOnStorageErrors injects I/O errors into every kind of
// read marking does (tags, revisions, layer links, referrers, manifest
// bodies) and checks that the collection returns the error and deletes
// nothing after it: once the first fault has happened, not one Delete.
// When the fault comes before any deletion (always for every=1), the store
// is left exactly as it was.
func TestGCFailsClosedOnStorageErrors(t *testing.T) {
	areas := []string{"/_manifests/tags", "/_manifests/revisions", "/_layers", "/_manifests/referrers", "/blobs/"}
	ops := []string{"Stat", "GetContent", "List"}
	exercised := map[string]int{}
	cases, untouched := 0, 0
	template := newGCFixture(t)
	for _, area := range areas {
		for _, op := range ops {
			for _, every := range []int{1, 2, 3} {
				for _, untagged := range []bool{false, true} {
					name := fmt.Sprintf("%s%s/every%d/untagged=%v", op, area, every, untagged)
					t.Run(name, func(t *testing.T) {
						f := template.copy(t)
						before := listTree(t, f.root)
						fsd, err := NewFilesystemDriver(f.root)
						if err != nil {
							t.Fatal(err)
						}
						fd := &faultDriver{Driver: fsd, ops: map[string]bool{op: true}, match: area, every: every}
						res, err := New(fd, Options{}).GarbageCollect(context.Background(), GCOptions{DeleteUntagged: untagged, GracePeriod: time.Hour})
						if fd.faults == 0 {
							if err != nil {
								t.Fatalf("no fault injected, yet GC failed: %v", err)
							}
							return // this operation never touches this area
						}
						exercised[area]++
						cases++
						if !errors.Is(err, errInjected) {
							t.Fatalf("GC hit %d injected faults and returned %v (result %+v)", fd.faults, err, res)
						}
						if fd.deletesAfterFault != 0 {
							t.Errorf("GC deleted %d paths after the first storage error", fd.deletesAfterFault)
						}
						if fd.deletesBeforeFault == 0 {
							untouched++
							if after := listTree(t, f.root); strings.Join(after, "\n") != strings.Join(before, "\n") {
								t.Errorf("the store changed although the first fault came before any deletion")
							}
							if len(res.Deleted) != 0 {
								t.Errorf("result lists deletions: %v", res.Deleted)
							}
						}
						// Marking reads every area (blob data with GetContent
						// only), so a fault on the first read lands in it.
						if every == 1 && fd.deletesBeforeFault != 0 && !(op == "Stat" && area == "/blobs/") {
							t.Errorf("the first read of %s came after %d deletions: it is not a mark-phase read", area, fd.deletesBeforeFault)
						}
						f.checkLive(t, !untagged)
					})
				}
			}
		}
	}
	for _, area := range areas {
		if exercised[area] == 0 {
			t.Errorf("no case injected a fault into %s", area)
		}
	}
	t.Logf("%d cases hit a fault; in %d the first fault came before any deletion and the store was left unchanged", cases, untouched)
}

// TestUploadPurgeFailsClosedOnStorageErrors: a listing or startedat read
// that fails stops the purge with the error, deleting nothing after it.
func TestUploadPurgeFailsClosedOnStorageErrors(t *testing.T) {
	for _, op := range []string{"List", "GetContent", "Stat"} {
		t.Run(op, func(t *testing.T) {
			s, root := newStore(t)
			ctx := context.Background()
			for range 3 {
				if _, err := s.NewUpload(ctx, "app"); err != nil {
					t.Fatal(err)
				}
			}
			if op == "Stat" {
				// Stat is only the fallback for a session without a
				// readable startedat.
				for _, p := range listTree(t, root) {
					if name, ok := strings.CutSuffix(p, "=<data>"); ok && strings.HasSuffix(name, "/startedat") {
						writeFile(t, root+"/"+name, []byte("not a time"))
					}
				}
			}
			ageAll(t, root, 30*24*time.Hour)
			before := listTree(t, root)
			fsd, _ := NewFilesystemDriver(root)
			fd := &faultDriver{Driver: fsd, ops: map[string]bool{op: true}, match: "/_uploads", every: 1}
			n, err := New(fd, Options{}).PurgeUploads(ctx, time.Hour)
			if fd.faults == 0 {
				t.Fatal("no fault injected")
			}
			if !errors.Is(err, errInjected) || n != 0 {
				t.Fatalf("PurgeUploads = %d, %v; want 0 and the injected error", n, err)
			}
			if after := listTree(t, root); strings.Join(after, "\n") != strings.Join(before, "\n") {
				t.Error("purge deleted sessions after a storage error")
			}
		})
	}
}
