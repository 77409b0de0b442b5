package s3

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/wharf-registry/wharf/pkg/storage"
)

// treeFiles has names where S3's key order and depth-first order differ:
// '-' and '.' sort before '/', so "a-b/..." keys precede "a/..." keys.
var treeFiles = []string{
	"/v2/a/x",
	"/v2/a/y/z",
	"/v2/a-b/y",
	"/v2/a.c",
	"/v2/a-b.c/d/e",
	"/v2/b/c-d/e",
	"/v2/b/c/f",
	"/v2/b/c.d.e/f",
	"/v2/b/c.d-e/g",
	"/v2/b/c.d/h",
	"/v2/blobs/sha256/ab/abcdef/data",
	"/v2/blobs/sha256/ab/abffff/data",
	"/v2/blobs/sha256/cd/cdef01/data",
}

// sameTree writes treeFiles to an S3 driver and a filesystem driver.
func sameTree(t *testing.T, s *server) (*Driver, *storage.FilesystemDriver) {
	d := s.newDriver(t, s.config(t))
	d.pageSize = 2 // every listing pages, every seek drops a partial page
	fs, err := storage.NewFilesystemDriver(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range treeFiles {
		put(t, d, p, p)
		put(t, fs, p, p)
	}
	return d, fs
}

func TestListMatchesTheFilesystemDriver(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		ctx := context.Background()
		d, fs := sameTree(t, s)
		// A directory marker and a key outside the path grammar, as other
		// tools leave them, are not entries.
		raw := s.client()
		for _, k := range []string{"v2/b/", "v2/b/has space"} {
			_, err := raw.PutObject(ctx, &s3sdk.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String(strings.Trim(d.cfg.RootDirectory, "/") + "/" + k), Body: strings.NewReader("")})
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, dir := range []string{"/v2", "/v2/b", "/v2/b/c.d", "/v2/blobs/sha256"} {
			want, err := fs.List(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			got, err := d.List(ctx, dir)
			if err != nil || !slices.Equal(got, want) {
				t.Errorf("List(%s) = %v, %v\nwant %v", dir, got, err, want)
			}
		}
		if _, err := d.List(ctx, "/v2/nothing"); !errors.Is(err, storage.ErrPathNotFound) {
			t.Errorf("List(missing) = %v", err)
		}
		if _, err := d.List(ctx, "/v2/a.c"); !errors.Is(err, storage.ErrPathNotFound) {
			t.Errorf("List(file) = %v", err)
		}
	})
}

// walkLog records a walk as "d /path" and "f /path size" lines; skip names
// the directories to skip.
func walkLog(t *testing.T, d storage.Driver, root string, skip ...string) []string {
	t.Helper()
	var out []string
	err := d.Walk(context.Background(), root, func(fi storage.FileInfo) error {
		if fi.IsDir {
			out = append(out, "d "+fi.Path)
			if slices.Contains(skip, fi.Path) {
				return storage.ErrSkipDir
			}
			return nil
		}
		out = append(out, fmt.Sprintf("f %s %d", fi.Path, fi.Size))
		return nil
	})
	if err != nil {
		t.Fatalf("Walk(%s): %v", root, err)
	}
	return out
}

func TestWalkMatchesTheFilesystemDriver(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		d, fs := sameTree(t, s)
		for _, tc := range []struct {
			root string
			skip []string
		}{
			{"/", nil},
			{"/v2", nil},
			{"/v2/b", nil},
			{"/v2", []string{"/v2/a", "/v2/b/c.d"}},
			{"/v2", []string{"/v2/a-b", "/v2/blobs/sha256/ab"}},
			{"/v2/blobs", []string{"/v2/blobs/sha256"}},
		} {
			t.Run(fmt.Sprintf("%s-skip%v", tc.root, tc.skip), func(t *testing.T) {
				want := walkLog(t, fs, tc.root, tc.skip...)
				got := walkLog(t, d, tc.root, tc.skip...)
				if !slices.Equal(got, want) {
					t.Errorf("walk differs\n got: %q\nwant: %q", got, want)
				}
			})
		}
	})
}

func TestWalkReportsMissingAndStopsOnError(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		ctx := context.Background()
		d, _ := sameTree(t, s)
		if err := d.Walk(ctx, "/v2/nothing", func(storage.FileInfo) error { return nil }); !errors.Is(err, storage.ErrPathNotFound) {
			t.Errorf("Walk(missing) = %v", err)
		}
		calls := 0
		if err := d.Walk(ctx, "/v2/a.c", func(storage.FileInfo) error { calls++; return nil }); err != nil || calls != 0 {
			t.Errorf("Walk(file) = %v after %d calls, want nil after none", err, calls)
		}
		stop := errors.New("stop")
		calls = 0
		err := d.Walk(ctx, "/v2", func(fi storage.FileInfo) error {
			calls++
			if fi.Path == "/v2/a-b/y" {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || calls != 6 {
			t.Errorf("Walk stopping at /v2/a-b/y = %v after %d calls, want stop after 6", err, calls)
		}
	})
}
