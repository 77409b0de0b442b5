package s3

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/wharf-registry/wharf/pkg/storage"
)

// randomBytes returns n reproducible pseudo-random bytes.
func randomBytes(seed byte, n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{seed}).Read(b)
	return b
}

func put(t *testing.T, d storage.Driver, p, content string) {
	t.Helper()
	if err := d.PutContent(context.Background(), p, []byte(content)); err != nil {
		t.Fatalf("PutContent(%s): %v", p, err)
	}
}

func readAll(t *testing.T, d storage.Driver, p string, offset int64) []byte {
	t.Helper()
	rc, err := d.Reader(context.Background(), p, offset)
	if err != nil {
		t.Fatalf("Reader(%s, %d): %v", p, offset, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %s: %v", p, err)
	}
	return b
}

func TestSmallFilesRoundTrip(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		ctx := context.Background()
		d := s.newDriver(t, s.config(t))
		put(t, d, "/docker/registry/v2/repositories/app/_layers/sha256/ab/link", "sha256:ab")
		put(t, d, "/docker/registry/v2/empty", "")

		got, err := d.GetContent(ctx, "/docker/registry/v2/repositories/app/_layers/sha256/ab/link")
		if err != nil || string(got) != "sha256:ab" {
			t.Fatalf("GetContent = %q, %v", got, err)
		}
		put(t, d, "/docker/registry/v2/repositories/app/_layers/sha256/ab/link", "sha256:cd")
		if got, _ := d.GetContent(ctx, "/docker/registry/v2/repositories/app/_layers/sha256/ab/link"); string(got) != "sha256:cd" {
			t.Fatalf("after replacing: %q", got)
		}
		if got, err := d.GetContent(ctx, "/docker/registry/v2/empty"); err != nil || len(got) != 0 {
			t.Fatalf("empty file: %q, %v", got, err)
		}

		fi, err := d.Stat(ctx, "/docker/registry/v2/repositories/app/_layers/sha256/ab/link")
		if err != nil || fi.IsDir || fi.Size != 9 || time.Since(fi.ModTime) > time.Hour {
			t.Fatalf("Stat(file) = %+v, %v", fi, err)
		}
		fi, err = d.Stat(ctx, "/docker/registry/v2/repositories/app")
		if err != nil || !fi.IsDir || fi.ModTime.IsZero() {
			t.Fatalf("Stat(dir) = %+v, %v", fi, err)
		}
		if fi, err := d.Stat(ctx, "/"); err != nil || !fi.IsDir {
			t.Fatalf("Stat(/) = %+v, %v", fi, err)
		}

		for _, p := range []string{"/docker/missing", "/docker/registry/v2/repositories/app/_lay"} {
			if _, err := d.GetContent(ctx, p); !errors.Is(err, storage.ErrPathNotFound) {
				t.Errorf("GetContent(%s) = %v, want ErrPathNotFound", p, err)
			}
			if _, err := d.Stat(ctx, p); !errors.Is(err, storage.ErrPathNotFound) {
				t.Errorf("Stat(%s) = %v, want ErrPathNotFound", p, err)
			}
			if _, err := d.Reader(ctx, p, 0); !errors.Is(err, storage.ErrPathNotFound) {
				t.Errorf("Reader(%s) = %v, want ErrPathNotFound", p, err)
			}
		}
		if _, err := d.GetContent(ctx, "/docker/registry/v2/repositories/app"); !errors.Is(err, storage.ErrPathNotFound) {
			t.Errorf("GetContent(dir) = %v, want ErrPathNotFound", err)
		}
	})
}

func TestPathsOutsideTheGrammarAreRefused(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		d := s.newDriver(t, s.config(t))
		for _, p := range []string{"", "relative", "/a/../b", "/a/./b", "/a//b", "/a/b/", "/a b", "/a%2Fb", "/ü"} {
			if err := d.PutContent(context.Background(), p, nil); !errors.Is(err, storage.ErrInvalidPath) {
				t.Errorf("PutContent(%q) = %v, want ErrInvalidPath", p, err)
			}
			if _, err := d.List(context.Background(), p); !errors.Is(err, storage.ErrInvalidPath) {
				t.Errorf("List(%q) = %v, want ErrInvalidPath", p, err)
			}
		}
		if err := d.Delete(context.Background(), "/"); !errors.Is(err, storage.ErrInvalidPath) {
			t.Errorf("Delete(/) = %v, want ErrInvalidPath", err)
		}
	})
}

// A bucket written by registry:2 is served as it is: keys are
// <rootdirectory>/docker/registry/v2/..., without a leading slash.
func TestKeysFollowRegistry2Layout(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		ctx := context.Background()
		raw := s.client()
		for _, root := range []string{"", "/", "/reg/", "nested/root"} {
			t.Run("root="+root, func(t *testing.T) {
				cfg := s.config(t)
				prefix := strings.Trim(cfg.RootDirectory, "/") + "/"
				cfg.RootDirectory = "/" + prefix + strings.TrimLeft(root, "/")
				want := prefix
				if r := strings.Trim(root, "/"); r != "" {
					want += r + "/"
				}
				d := s.newDriver(t, cfg)
				put(t, d, "/docker/registry/v2/blobs/sha256/ab/abcd/data", "ours")
				if _, err := raw.HeadObject(ctx, &s3sdk.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String(want + "docker/registry/v2/blobs/sha256/ab/abcd/data")}); err != nil {
					t.Fatalf("object not at registry:2's key: %v", err)
				}
				_, err := raw.PutObject(ctx, &s3sdk.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String(want + "docker/registry/v2/repositories/x/_layers/sha256/abcd/link"), Body: strings.NewReader("sha256:abcd")})
				if err != nil {
					t.Fatal(err)
				}
				if got, err := d.GetContent(ctx, "/docker/registry/v2/repositories/x/_layers/sha256/abcd/link"); err != nil || string(got) != "sha256:abcd" {
					t.Fatalf("registry:2's object through the driver: %q, %v", got, err)
				}
			})
		}
	})
}

func TestReaderStartsAtOffset(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		d := s.newDriver(t, s.config(t))
		content := randomBytes(1, 1000)
		put(t, d, "/f", string(content))
		for _, off := range []int64{0, 1, 500, 999, 1000, 5000} {
			want := content[min(off, int64(len(content))):]
			if got := readAll(t, d, "/f", off); !bytes.Equal(got, want) {
				t.Errorf("Reader at %d: %d bytes, want %d", off, len(got), len(want))
			}
		}
		put(t, d, "/empty", "")
		if got := readAll(t, d, "/empty", 0); len(got) != 0 {
			t.Errorf("empty file read %d bytes", len(got))
		}
	})
}

func TestMoveReplacesDestinationAndRemovesSource(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		ctx := context.Background()
		cfg := s.config(t)
		cfg.MultipartCopyThresholdSize = MinChunkSize
		cfg.MultipartCopyChunkSize = MinChunkSize
		cfg.MultipartCopyMaxConcurrency = 2
		d := s.newDriver(t, cfg)
		for _, size := range []int{10, MinChunkSize + 1, 3*MinChunkSize + 7} {
			content := randomBytes(byte(size), size)
			put(t, d, "/up/data", string(content))
			put(t, d, "/blobs/x/data", "old content")
			if err := d.Move(ctx, "/up/data", "/blobs/x/data"); err != nil {
				t.Fatalf("Move(%d bytes): %v", size, err)
			}
			if got := readAll(t, d, "/blobs/x/data", 0); !bytes.Equal(got, content) {
				t.Fatalf("moved %d bytes, read %d back (equal=false)", size, len(got))
			}
			if _, err := d.Stat(ctx, "/up/data"); !errors.Is(err, storage.ErrPathNotFound) {
				t.Fatalf("source still there: %v", err)
			}
		}
		if err := d.Move(ctx, "/nothing", "/else"); !errors.Is(err, storage.ErrPathNotFound) {
			t.Fatalf("Move(missing) = %v", err)
		}
	})
}

func TestDeleteRemovesFileOrWholeDirectory(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		ctx := context.Background()
		d := s.newDriver(t, s.config(t))
		d.pageSize = 2 // deletes go in several batches
		for _, p := range []string{"/r/a/link", "/r/a/b/c", "/r/a/b/d", "/r/a/e", "/r/a/f", "/r/a-b/link", "/r/keep"} {
			put(t, d, p, p)
		}
		if err := d.Delete(ctx, "/r/a/link"); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Stat(ctx, "/r/a/link"); !errors.Is(err, storage.ErrPathNotFound) {
			t.Fatalf("deleted file: %v", err)
		}
		if err := d.Delete(ctx, "/r/a"); err != nil {
			t.Fatal(err)
		}
		got, err := d.List(ctx, "/r")
		if want := []string{"/r/a-b", "/r/keep"}; err != nil || !slices.Equal(got, want) {
			t.Fatalf("after deleting /r/a: %v, %v; want %v (a sibling sharing the prefix must stay)", got, err, want)
		}
		if err := d.Delete(ctx, "/r/a"); !errors.Is(err, storage.ErrPathNotFound) {
			t.Fatalf("Delete(missing) = %v", err)
		}
	})
}

func TestTouchRefreshesModificationTime(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		ctx := context.Background()
		d := s.newDriver(t, s.config(t))
		small, large := randomBytes(2, 100), randomBytes(3, touchRewriteMax+MinChunkSize)
		put(t, d, "/small", string(small))
		put(t, d, "/large", string(large))
		// S3 dates objects to the second: let one pass so a refreshed
		// time is distinguishable from the original.
		time.Sleep(1100 * time.Millisecond)
		for _, f := range []struct {
			p       string
			content []byte
		}{{"/small", small}, {"/large", large}} {
			before, _ := d.Stat(ctx, f.p)
			if err := d.Touch(ctx, f.p); err != nil {
				t.Fatalf("Touch(%s): %v", f.p, err)
			}
			after, _ := d.Stat(ctx, f.p)
			if !after.ModTime.After(before.ModTime) {
				t.Errorf("Touch(%s): mtime %v, was %v", f.p, after.ModTime, before.ModTime)
			}
			if got := readAll(t, d, f.p, 0); !bytes.Equal(got, f.content) {
				t.Errorf("Touch(%s) changed the content", f.p)
			}
		}
		if err := d.Touch(ctx, "/missing"); !errors.Is(err, storage.ErrPathNotFound) {
			t.Errorf("Touch(missing) = %v", err)
		}
	})
}

func TestConditionalWritesRefuseLostUpdates(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		ctx := context.Background()
		var cw ConditionalWriter = s.newDriver(t, s.config(t))
		v1, err := cw.PutContentIfNoneMatch(ctx, "/tag/link", []byte("sha256:1"))
		if err != nil || v1 == "" {
			t.Fatalf("create: %q, %v", v1, err)
		}
		if _, err := cw.PutContentIfNoneMatch(ctx, "/tag/link", []byte("sha256:2")); !errors.Is(err, ErrPreconditionFailed) {
			t.Fatalf("second create = %v, want ErrPreconditionFailed", err)
		}
		content, v, err := cw.GetContentVersion(ctx, "/tag/link")
		if err != nil || string(content) != "sha256:1" || v != v1 {
			t.Fatalf("GetContentVersion = %q, %q, %v", content, v, err)
		}
		v2, err := cw.PutContentIfMatch(ctx, "/tag/link", []byte("sha256:3"), v)
		if err != nil {
			t.Fatalf("update from the current version: %v", err)
		}
		// A writer that read v1 lost the race to the one that wrote v2.
		if _, err := cw.PutContentIfMatch(ctx, "/tag/link", []byte("sha256:4"), v1); !errors.Is(err, ErrPreconditionFailed) {
			t.Fatalf("update from a stale version = %v, want ErrPreconditionFailed", err)
		}
		if _, err := cw.PutContentIfMatch(ctx, "/tag/missing", []byte("x"), v2); !errors.Is(err, ErrPreconditionFailed) {
			t.Fatalf("update of a missing file = %v, want ErrPreconditionFailed", err)
		}
		if content, _, _ := cw.GetContentVersion(ctx, "/tag/link"); string(content) != "sha256:3" {
			t.Fatalf("final content %q", content)
		}
	})
}

func TestPresignedURLServesTheFile(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		ctx := context.Background()
		cfg := s.config(t)
		off := s.newDriver(t, cfg)
		put(t, off, "/blob", "presigned content")
		if _, err := off.URLFor(ctx, "/blob"); !errors.Is(err, ErrRedirectDisabled) {
			t.Fatalf("URLFor without Redirect = %v", err)
		}
		cfg.Redirect = true
		on := s.newDriver(t, cfg)
		u, err := on.URLFor(ctx, "/blob")
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || string(b) != "presigned content" {
			t.Fatalf("GET presigned URL: %d %q", resp.StatusCode, b)
		}
		if resp, err := http.Get(u + "x"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Fatal("a tampered URL was served")
			}
		}
	})
}
