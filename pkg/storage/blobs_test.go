package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/pkg/reference"
)

func TestBlobIsVisibleOnlyInRepositoriesThatLinkIt(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	content := []byte("secret layer")
	d := pushBlob(t, s, "bob/secret", content)

	got, err := s.StatBlob(ctx, "bob/secret", d.Digest)
	if err != nil || got.Size != int64(len(content)) || got.Digest != d.Digest {
		t.Fatalf("StatBlob in owner = %+v, %v", got, err)
	}
	rc, od, err := s.OpenBlob(ctx, "bob/secret", d.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := rc.(*os.File); !ok {
		t.Errorf("OpenBlob on the filesystem returned %T, want *os.File for sendfile", rc)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(b, content) || od.Size != int64(len(content)) {
		t.Errorf("OpenBlob read %q (size %d)", b, od.Size)
	}

	for _, repo := range []string{"alice/x", "bob", "bob/secret/sub"} {
		if _, err := s.StatBlob(ctx, repo, d.Digest); !errors.Is(err, ErrBlobUnknown) {
			t.Errorf("StatBlob(%s) = %v, want ErrBlobUnknown", repo, err)
		}
		if _, _, err := s.OpenBlob(ctx, repo, d.Digest); !errors.Is(err, ErrBlobUnknown) {
			t.Errorf("OpenBlob(%s) = %v, want ErrBlobUnknown", repo, err)
		}
	}
}

func TestBlobCallsValidateNamesAndDigests(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	good := sha256Of([]byte("x"))
	tests := []struct {
		name, repo string
		d          digest.Digest
		want       error
	}{
		{"traversal in name", "../etc", good, ErrNameInvalid},
		{"uppercase name", "Foo", good, ErrNameInvalid},
		{"uppercase hex", "foo", digest.Digest(strings.ToUpper(string(good))), reference.ErrDigestInvalid},
		{"uppercase hex digits only", "foo", digest.Digest("sha256:" + strings.ToUpper(good.Encoded())), reference.ErrDigestInvalid},
		{"traversal in digest", "foo", "sha256:../../../../etc/passwd", reference.ErrDigestInvalid},
		{"sha384", "foo", digest.Digest("sha384:" + strings.Repeat("a", 96)), ErrUnsupportedDigest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.StatBlob(ctx, tt.repo, tt.d); !errors.Is(err, tt.want) {
				t.Errorf("StatBlob = %v, want %v", err, tt.want)
			}
			if _, err := s.PutBlob(ctx, tt.repo, tt.d, strings.NewReader("x"), 1); !errors.Is(err, tt.want) {
				t.Errorf("PutBlob = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestMonolithicPutVerifiesDigestAndSize(t *testing.T) {
	content := []byte("hello blob")
	tests := []struct {
		name string
		d    digest.Digest
		size int64
		want error
	}{
		{"sha256", sha256Of(content), int64(len(content)), nil},
		{"sha512", sha512Of(content), int64(len(content)), nil},
		{"unknown size", sha256Of(content), -1, nil},
		{"wrong digest", sha256Of([]byte("other")), int64(len(content)), ErrDigestInvalid},
		{"wrong sha512 digest", sha512Of([]byte("other")), int64(len(content)), ErrDigestInvalid},
		{"announced size too big", sha256Of(content), int64(len(content)) + 1, ErrSizeInvalid},
		{"announced size too small", sha256Of(content), 1, ErrSizeInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, root := newStore(t)
			ctx := context.Background()
			got, err := s.PutBlob(ctx, "app", tt.d, bytes.NewReader(content), tt.size)
			if !errors.Is(err, tt.want) {
				t.Fatalf("PutBlob = %+v, %v; want %v", got, err, tt.want)
			}
			_, statErr := s.StatBlob(ctx, "app", tt.d)
			if tt.want != nil {
				if !errors.Is(statErr, ErrBlobUnknown) || exists(blobFile(root, tt.d)) {
					t.Errorf("failed put left a visible blob: %v", statErr)
				}
				assertNoUploads(t, root, "app")
				return
			}
			if statErr != nil || got.Digest != tt.d || got.Size != int64(len(content)) {
				t.Errorf("got %+v, stat %v", got, statErr)
			}
		})
	}
}

func assertNoUploads(t *testing.T, root, repo string) {
	t.Helper()
	entries, _ := os.ReadDir(v2(root, "repositories", repo, "_uploads"))
	if len(entries) != 0 {
		t.Errorf("%d upload sessions left behind", len(entries))
	}
}

func TestDeleteBlobUnlinksFromOneRepositoryOnly(t *testing.T) {
	s, root := newStore(t)
	ctx := context.Background()
	content := []byte("shared")
	d := pushBlob(t, s, "a", content)
	pushBlob(t, s, "b", content)

	if err := s.DeleteBlob(ctx, "a", d.Digest); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StatBlob(ctx, "a", d.Digest); !errors.Is(err, ErrBlobUnknown) {
		t.Errorf("after delete, StatBlob(a) = %v", err)
	}
	if _, err := s.StatBlob(ctx, "b", d.Digest); err != nil {
		t.Errorf("delete in a hid the blob from b: %v", err)
	}
	if !exists(blobFile(root, d.Digest)) {
		t.Error("delete removed the shared data; only GC may")
	}
	if err := s.DeleteBlob(ctx, "a", d.Digest); !errors.Is(err, ErrBlobUnknown) {
		t.Errorf("second delete = %v, want ErrBlobUnknown", err)
	}
}

func TestMountNeedsTheBlobInTheSourceRepository(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	d := pushBlob(t, s, "src", []byte("mount me"))
	pushBlob(t, s, "elsewhere", []byte("not linked in src"))
	other := sha256Of([]byte("not linked in src"))

	tests := []struct {
		name, from string
		d          digest.Digest
		want       error
	}{
		{"linked in source", "src", d.Digest, nil},
		{"source lacks it though another repo has it", "src", other, ErrBlobUnknown},
		{"unknown source", "nobody", d.Digest, ErrBlobUnknown},
		{"invalid source", "../src", d.Digest, ErrNameInvalid},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := fmt.Sprintf("dst%d", i)
			got, err := s.MountBlob(ctx, tt.from, dst, tt.d)
			if !errors.Is(err, tt.want) {
				t.Fatalf("MountBlob = %v, want %v", err, tt.want)
			}
			_, statErr := s.StatBlob(ctx, dst, tt.d)
			if tt.want == nil && (statErr != nil || got.Size != d.Size) {
				t.Errorf("mounted blob not visible in dst: %v (%+v)", statErr, got)
			}
			if tt.want != nil && statErr == nil {
				t.Error("failed mount made the blob visible in dst")
			}
		})
	}
}

func TestReadOnlyStoreRefusesWrites(t *testing.T) {
	root := t.TempDir()
	rw, err := NewFilesystem(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	img := pushImage(t, rw, "app", "v1", "ro")
	u, err := rw.NewUpload(context.Background(), "app")
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewFilesystem(root, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ru, err := s.Upload(ctx, "app", u.ID())
	if err != nil {
		t.Fatalf("reading an upload's status must work read-only: %v", err)
	}
	writes := map[string]func() error{
		"PutBlob":        func() error { _, err := s.PutBlob(ctx, "app", sha256Of(nil), strings.NewReader(""), 0); return err },
		"NewUpload":      func() error { _, err := s.NewUpload(ctx, "app"); return err },
		"Append":         func() error { _, err := ru.Append(ctx, 0, strings.NewReader("x")); return err },
		"Commit":         func() error { _, err := ru.Commit(ctx, sha256Of(nil)); return err },
		"Cancel":         func() error { return ru.Cancel(ctx) },
		"MountBlob":      func() error { _, err := s.MountBlob(ctx, "app", "other", img.Blobs[0].Digest); return err },
		"DeleteBlob":     func() error { return s.DeleteBlob(ctx, "app", img.Blobs[0].Digest) },
		"PutManifest":    func() error { _, _, err := s.PutManifest(ctx, "app", "v2", "", []byte("{}")); return err },
		"DeleteManifest": func() error { return s.DeleteManifest(ctx, "app", img.Manifest.Digest) },
		"DeleteTag":      func() error { return s.DeleteTag(ctx, "app", "v1") },
	}
	for name, write := range writes {
		t.Run(name, func(t *testing.T) {
			if err := write(); !errors.Is(err, ErrReadOnly) {
				t.Fatalf("%s = %v, want ErrReadOnly", name, err)
			}
		})
	}
	if err := readable(t, s, "app", "v1"); err != nil {
		t.Errorf("read-only store cannot read: %v", err)
	}
}

// A driver without URLs (the filesystem) never redirects, even when asked
// to: BlobURL answers "" and the HTTP layer serves the bytes.
func TestBlobURLIsEmptyWithoutADriverThatMakesURLs(t *testing.T) {
	for _, redirect := range []bool{false, true} {
		t.Run(fmt.Sprintf("redirect=%v", redirect), func(t *testing.T) {
			s, err := NewFilesystem(t.TempDir(), Options{Redirect: redirect})
			if err != nil {
				t.Fatal(err)
			}
			desc := pushBlob(t, s, "app", []byte("content"))
			if u, err := s.BlobURL(context.Background(), "app", desc.Digest); u != "" || err != nil {
				t.Errorf("BlobURL = %q, %v; want \"\", nil", u, err)
			}
		})
	}
}
