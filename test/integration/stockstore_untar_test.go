package integration

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// extractStore unpacks a gzipped tar of a registry store into root, as
// `tar -xzf` would (modification times kept: garbage collection reads
// them). Only directories and regular files at or below top are accepted:
// a link, a device, or a name that is absolute, climbs with "..", or lies
// outside top is an error, before anything is written for it.
func extractStore(r io.Reader, top, root string) error {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	type dirTime struct {
		path  string
		mtime time.Time
	}
	var dirs []dirTime
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		name := strings.TrimSuffix(hdr.Name, "/")
		if !filepath.IsLocal(name) || strings.Contains(hdr.Name, `\`) ||
			(name != top && !strings.HasPrefix(name, top+"/")) {
			return fmt.Errorf("entry %q lies outside %s/", hdr.Name, top)
		}
		dst := filepath.Join(root, filepath.FromSlash(name))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
			dirs = append(dirs, dirTime{dst, hdr.ModTime})
		case tar.TypeReg:
			// Parents come first in the archive; MkdirAll covers one
			// that omits them.
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			if err := writeEntry(dst, tr, hdr.ModTime); err != nil {
				return err
			}
		default:
			return fmt.Errorf("entry %q has type %q; a registry store holds only directories and files", hdr.Name, hdr.Typeflag)
		}
	}
	// Directory times last, deepest first, as tar does: creating entries
	// inside a directory changes its time.
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Chtimes(dirs[i].path, dirs[i].mtime, dirs[i].mtime); err != nil {
			return err
		}
	}
	return nil
}

// writeEntry creates dst (never over an existing file) with r's content
// and mtime.
func writeEntry(dst string, r io.Reader, mtime time.Time) error {
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chtimes(dst, mtime, mtime)
}

// TestExtractStoreRefusesEntriesOutsideTheStore feeds extractStore archives
// that would write outside the store, or create links through which later
// entries could, and checks that each is refused and nothing lands beside
// the target directory.
func TestExtractStoreRefusesEntriesOutsideTheStore(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		hdr  tar.Header
	}{
		{"parent directory", tar.Header{Name: "../evil", Typeflag: tar.TypeReg}},
		{"parent inside the top entry", tar.Header{Name: "docker/../../evil", Typeflag: tar.TypeReg}},
		{"absolute", tar.Header{Name: "/tmp/evil", Typeflag: tar.TypeReg}},
		{"beside the top entry", tar.Header{Name: "dockerx/evil", Typeflag: tar.TypeReg}},
		{"backslash", tar.Header{Name: `docker\..\..\evil`, Typeflag: tar.TypeReg}},
		{"symbolic link", tar.Header{Name: "docker/registry", Typeflag: tar.TypeSymlink, Linkname: "/"}},
		{"hard link", tar.Header{Name: "docker/passwd", Typeflag: tar.TypeLink, Linkname: "/etc/passwd"}},
		{"device", tar.Header{Name: "docker/null", Typeflag: tar.TypeChar}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			gz := gzip.NewWriter(&buf)
			tw := tar.NewWriter(gz)
			content := []byte("evil\n")
			for _, h := range []tar.Header{{Name: "docker/", Typeflag: tar.TypeDir, Mode: 0o755}, tc.hdr} {
				h.Mode = 0o644
				if h.Typeflag == tar.TypeReg {
					h.Size = int64(len(content))
				}
				if err := tw.WriteHeader(&h); err != nil {
					t.Fatal(err)
				}
				if h.Typeflag == tar.TypeReg {
					if _, err := tw.Write(content); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := tw.Close(); err != nil {
				t.Fatal(err)
			}
			if err := gz.Close(); err != nil {
				t.Fatal(err)
			}
			parent := t.TempDir()
			root := filepath.Join(parent, "store")
			if err := os.Mkdir(root, 0o755); err != nil {
				t.Fatal(err)
			}
			err := extractStore(&buf, "docker", root)
			if err == nil {
				t.Fatalf("extractStore accepted %q", tc.hdr.Name)
			}
			entries, err2 := os.ReadDir(parent)
			if err2 != nil {
				t.Fatal(err2)
			}
			if len(entries) != 1 {
				t.Errorf("entries beside the store after %v: %v", err, entries)
			}
			if _, err := os.Lstat(filepath.Join(root, filepath.FromSlash(tc.hdr.Name))); err == nil && tc.hdr.Typeflag != tar.TypeReg {
				t.Errorf("%s was created", tc.hdr.Name)
			}
		})
	}
}
