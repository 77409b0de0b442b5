package storage

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/pkg/manifest"
)

// TestContentReportedPresentSurvivesACollection: a blob found by StatBlob
// and an untagged manifest found by GetManifest, both old and unreferenced,
// outlive a collection that runs before the client's manifest names them.
func TestContentReportedPresentSurvivesACollection(t *testing.T) {
	ctx := context.Background()
	gc := GCOptions{DeleteUntagged: true, GracePeriod: time.Hour}
	for _, tt := range []struct {
		name string
		look func(s *Store, img image) error
		next func(img image) []byte // the manifest the client then pushes
	}{
		{"StatBlob of the blobs", func(s *Store, img image) error {
			for _, b := range img.Blobs {
				if _, err := s.StatBlob(ctx, "app", b.Digest); err != nil {
					return err
				}
			}
			return nil
		}, func(img image) []byte {
			return imageBody(manifest.MediaTypeOCIManifest, img.Blobs[0], img.Blobs[1:], nil, "again")
		}},
		{"GetManifest of the untagged manifest", func(s *Store, img image) error {
			_, err := s.GetManifest(ctx, "app", img.Manifest.Digest.String())
			return err
		}, func(img image) []byte { return indexBody(manifest.MediaTypeOCIIndex, img.Manifest) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, root := newStore(t)
			img := pushImage(t, s, "app", "", "old")
			ageAll(t, root, 2*time.Hour)
			if err := tt.look(s, img); err != nil {
				t.Fatal(err)
			}
			if _, err := s.GarbageCollect(ctx, gc); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.PutManifest(ctx, "app", "v1", "", tt.next(img)); err != nil {
				t.Errorf("the push that relied on what it was told: %v", err)
			}
		})
	}
	t.Run("control: unread content is collected", func(t *testing.T) {
		s, root := newStore(t)
		img := pushImage(t, s, "app", "", "old")
		ageAll(t, root, 2*time.Hour)
		if _, err := s.GarbageCollect(ctx, gc); err != nil {
			t.Fatal(err)
		}
		if _, err := s.StatBlob(ctx, "app", img.Blobs[1].Digest); !errors.Is(err, ErrBlobUnknown) {
			t.Errorf("StatBlob after the collection: %v, want ErrBlobUnknown", err)
		}
	})
}
