package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/pkg/manifest"
)

// TestGCWhilePushingKeepsEveryPushedTagReadable runs collections in a loop
// while clients push images that reuse old, unreferenced blobs (the case
// registry:2 loses) next to new ones.
func TestGCWhilePushingKeepsEveryPushedTagReadable(t *testing.T) {
	s, root := newStore(t)
	ctx := context.Background()
	var reusable [][]byte
	for i := range 8 {
		b := []byte(fmt.Sprintf("old base layer %d", i))
		reusable = append(reusable, b)
		pushBlob(t, s, "base", b)
	}
	for i := range 10 {
		pushBlob(t, s, "junk", []byte(fmt.Sprintf("garbage %d", i)))
		pushImage(t, s, "junk", "", fmt.Sprintf("untagged %d", i))
	}
	ageAll(t, root, 2*time.Hour)

	done := make(chan struct{})
	gcRuns := 0
	gcErr := make(chan error, 1)
	go func() {
		defer close(gcErr)
		for {
			// A grace period much longer than any push here, but far
			// shorter than the age of the old material.
			if _, err := s.GarbageCollect(ctx, GCOptions{DeleteUntagged: true, GracePeriod: time.Minute}); err != nil {
				gcErr <- err
				return
			}
			gcRuns++
			select {
			case <-done:
				return
			default:
			}
		}
	}()

	const pushers, pushes = 4, 8
	type pushed struct{ repo, tag string }
	results := make(chan pushed, pushers*pushes)
	errs := make(chan error, pushers*pushes)
	var wg sync.WaitGroup
	for g := range pushers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			repo := fmt.Sprintf("team/p%d", g)
			for i := range pushes {
				tag := fmt.Sprintf("v%d", i)
				if err := pushReusing(ctx, s, repo, tag, reusable[(g+i)%len(reusable)]); err != nil {
					errs <- fmt.Errorf("%s:%s: %w", repo, tag, err)
					continue
				}
				results <- pushed{repo, tag}
			}
		}()
	}
	wg.Wait()
	close(done)
	if err := <-gcErr; err != nil {
		t.Fatalf("GC: %v", err)
	}
	close(errs)
	close(results)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d collections ran during the pushes", gcRuns)

	var all []pushed
	for p := range results {
		all = append(all, p)
		if err := readable(t, s, p.repo, p.tag); err != nil {
			t.Errorf("%s:%s unreadable after GC during push: %v", p.repo, p.tag, err)
		}
	}
	// Once everything is old, a collection must still keep every tag.
	ageAll(t, root, 2*time.Hour)
	if _, err := s.GarbageCollect(ctx, GCOptions{DeleteUntagged: true, GracePeriod: time.Minute}); err != nil {
		t.Fatal(err)
	}
	for _, p := range all {
		if err := readable(t, s, p.repo, p.tag); err != nil {
			t.Errorf("%s:%s unreadable after a later GC: %v", p.repo, p.tag, err)
		}
	}
	if problems, err := s.Fsck(ctx); err != nil || len(problems) != 0 {
		t.Errorf("Fsck = %v, %v", problems, err)
	}
}

// pushReusing pushes an image the way a client does: mount the base layer
// from "base" (upload it when the mount is refused), upload a new layer and
// config, then the manifest.
func pushReusing(ctx context.Context, s *Store, repo, tag string, base []byte) error {
	baseD := sha256Of(base)
	if _, err := s.MountBlob(ctx, "base", repo, baseD); errors.Is(err, ErrBlobUnknown) {
		if _, err := s.PutBlob(ctx, repo, baseD, bytes.NewReader(base), int64(len(base))); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	layer := []byte("new layer of " + repo + ":" + tag)
	config := []byte(`{"image":"` + repo + ":" + tag + `"}`)
	var descs []Descriptor
	for _, b := range [][]byte{config, layer} {
		d, err := s.PutBlob(ctx, repo, sha256Of(b), bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return err
		}
		descs = append(descs, d)
	}
	body := imageBody(manifest.MediaTypeOCIManifest, descs[0],
		[]Descriptor{{Digest: baseD, Size: int64(len(base))}, descs[1]}, nil, "")
	_, _, err := s.PutManifest(ctx, repo, tag, manifest.MediaTypeOCIManifest, body)
	return err
}
