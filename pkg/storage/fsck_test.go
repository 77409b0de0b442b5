package storage

import (
	"context"
	"os"
	"strings"
	"testing"
)

func TestFsckReportsDamagedContent(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		damage func(t *testing.T, root string, img image)
		want   string // substring of the single expected problem line
	}{
		{"healthy store", func(*testing.T, string, image) {}, ""},
		{"corrupt layer", func(t *testing.T, root string, img image) {
			os.WriteFile(blobFile(root, img.Blobs[1].Digest), []byte("bit rot"), 0o644)
		}, "content does not match its digest"},
		{"missing config", func(t *testing.T, root string, img image) {
			os.Remove(blobFile(root, img.Blobs[0].Digest))
		}, "is missing"},
		{"link with garbage", func(t *testing.T, root string, img image) {
			os.WriteFile(layerLink(root, "app", img.Blobs[1].Digest), []byte("not a digest"), 0o644)
		}, "not a digest"},
		{"link in the wrong directory", func(t *testing.T, root string, img image) {
			os.WriteFile(layerLink(root, "app", img.Blobs[1].Digest), []byte(img.Blobs[0].Digest), 0o644)
		}, "does not match its directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, root := newStore(t)
			img := pushImage(t, s, "app", "v1", "fsck")
			tt.damage(t, root, img)
			problems, err := s.Fsck(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == "" {
				if len(problems) != 0 {
					t.Fatalf("problems in a healthy store: %v", problems)
				}
				return
			}
			if len(problems) != 1 || !strings.Contains(problems[0], tt.want) || !strings.HasPrefix(problems[0], "repositories/app/") {
				t.Fatalf("problems = %q, want one containing %q", problems, tt.want)
			}
		})
	}
}

func TestCheckProbesWritability(t *testing.T) {
	s, root := newStore(t)
	ctx := context.Background()
	if err := s.Check(ctx); err != nil {
		t.Fatalf("Check on a writable root: %v", err)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("Check left %v behind", entries)
	}
	// A root that is no longer a directory (unmounted volume replaced by
	// a file, say) cannot be written, whoever the process runs as.
	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(root, []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(ctx); err == nil {
		t.Error("Check passed on an unusable root")
	}
}

func TestReadOnlyCheckDoesNotWrite(t *testing.T) {
	root := t.TempDir()
	s, err := NewFilesystem(root, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	os.Chmod(root, 0o555) // a read-only volume, for a non-root user at least
	defer os.Chmod(root, 0o755)
	if err := s.Check(ctx); err != nil {
		t.Fatalf("Check on a reachable read-only root: %v", err)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("read-only Check wrote %v", entries)
	}
	os.RemoveAll(root)
	if err := s.Check(ctx); err == nil {
		t.Error("Check passed on a vanished root")
	}
}
