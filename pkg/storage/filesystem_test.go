package storage

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFilesystemDriverRefusesPathsOutsideItsGrammar(t *testing.T) {
	d, err := NewFilesystemDriver(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, p := range []string{"", "relative", "/a/../../etc/passwd", "/a/./b", "/a//b", "/a/b/", "/a b", "/a\x00b", "/a\\b", "/..", "/ä"} {
		t.Run(p, func(t *testing.T) {
			if err := d.PutContent(ctx, p, []byte("x")); !errors.Is(err, ErrInvalidPath) {
				t.Errorf("PutContent(%q) = %v, want ErrInvalidPath", p, err)
			}
			if _, err := d.GetContent(ctx, p); !errors.Is(err, ErrInvalidPath) {
				t.Errorf("GetContent(%q) = %v, want ErrInvalidPath", p, err)
			}
			if err := d.Delete(ctx, p); !errors.Is(err, ErrInvalidPath) {
				t.Errorf("Delete(%q) = %v, want ErrInvalidPath", p, err)
			}
		})
	}
	if err := d.Delete(ctx, "/"); !errors.Is(err, ErrInvalidPath) {
		t.Errorf("Delete(/) = %v", err)
	}
}

func TestFilesystemDriverOperations(t *testing.T) {
	root := t.TempDir()
	d, err := NewFilesystemDriver(filepath.Join(root, "new", "dir"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := d.GetContent(ctx, "/missing"); !errors.Is(err, ErrPathNotFound) {
		t.Errorf("GetContent(missing) = %v", err)
	}
	if _, err := d.GetContent(ctx, "/missing/under/a/file"); !errors.Is(err, ErrPathNotFound) {
		t.Errorf("GetContent(missing dir) = %v", err)
	}
	for _, p := range []string{"/x/b", "/x/a", "/x/c/deep"} {
		if err := d.PutContent(ctx, p, []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.PutContent(ctx, "/x/a", []byte("replaced")); err != nil {
		t.Fatal(err)
	}
	if b, _ := d.GetContent(ctx, "/x/a"); string(b) != "replaced" {
		t.Errorf("PutContent did not replace: %q", b)
	}
	fi, err := os.Stat(filepath.Join(d.Root(), "x", "a"))
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("PutContent file mode %v (%v); registry:2 running as another user must read it", fi.Mode(), err)
	}
	list, err := d.List(ctx, "/x")
	if err != nil || strings.Join(list, " ") != "/x/a /x/b /x/c" {
		t.Errorf("List = %v, %v", list, err)
	}
	var walked []string
	err = d.Walk(ctx, "/x", func(fi FileInfo) error {
		walked = append(walked, fi.Path)
		if fi.Path == "/x/c" {
			return ErrSkipDir
		}
		return nil
	})
	if err != nil || strings.Join(walked, " ") != "/x/a /x/b /x/c" {
		t.Errorf("Walk = %v, %v", walked, err)
	}

	w, err := d.Writer(ctx, "/up/data", false)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("hello "))
	w.Close()
	w, err = d.Writer(ctx, "/up/data", true)
	if err != nil || w.Size() != 6 {
		t.Fatalf("append writer size %d, %v", w.Size(), err)
	}
	w.Write([]byte("world"))
	if err := w.Commit(ctx); err != nil || w.Size() != 11 {
		t.Fatalf("Commit: %v, size %d", err, w.Size())
	}
	r, err := d.Reader(ctx, "/up/data", 6)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if string(b) != "world" {
		t.Errorf("Reader at 6 = %q", b)
	}
	if err := d.Move(ctx, "/up/data", "/blobs/z/data"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Stat(ctx, "/up/data"); !errors.Is(err, ErrPathNotFound) {
		t.Errorf("Move left the source: %v", err)
	}
	if fi, err := d.Stat(ctx, "/blobs/z/data"); err != nil || fi.Size != 11 || fi.IsDir {
		t.Errorf("Stat after Move = %+v, %v", fi, err)
	}
	w, _ = d.Writer(ctx, "/tmp/cancelled", false)
	w.Write([]byte("x"))
	if err := w.Cancel(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Stat(ctx, "/tmp/cancelled"); !errors.Is(err, ErrPathNotFound) {
		t.Errorf("Cancel left the file: %v", err)
	}
	if err := d.Delete(ctx, "/x"); err != nil {
		t.Fatal(err)
	}
	if err := d.Delete(ctx, "/x"); !errors.Is(err, ErrPathNotFound) {
		t.Errorf("second Delete = %v", err)
	}
}
