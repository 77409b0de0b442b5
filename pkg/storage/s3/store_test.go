package s3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/pkg/storage"
)

// The whole registry storage over S3: two Stores on one bucket stand for
// two registry processes behind a load balancer.

const ociManifest = "application/vnd.oci.image.manifest.v1+json"

func twoStores(t *testing.T, s *server) (*storage.Store, *storage.Store, *Driver) {
	cfg := s.config(t)
	d1, d2 := s.newDriver(t, cfg), s.newDriver(t, cfg)
	return storage.New(d1, storage.Options{}), storage.New(d2, storage.Options{}), d1
}

func sha256Of(b []byte) digest.Digest {
	sum := sha256.Sum256(b)
	return digest.NewDigestFromBytes(digest.SHA256, sum[:])
}

func pushBlob(t *testing.T, s *storage.Store, repo string, content []byte) storage.Descriptor {
	t.Helper()
	desc, err := s.PutBlob(context.Background(), repo, sha256Of(content), bytes.NewReader(content), int64(len(content)))
	if err != nil {
		t.Fatalf("PutBlob: %v", err)
	}
	return desc
}

// imageManifest returns an OCI image manifest over config and layers.
func imageManifest(config storage.Descriptor, layers ...storage.Descriptor) []byte {
	type desc struct {
		MediaType string        `json:"mediaType"`
		Digest    digest.Digest `json:"digest"`
		Size      int64         `json:"size"`
	}
	m := struct {
		SchemaVersion int    `json:"schemaVersion"`
		MediaType     string `json:"mediaType"`
		Config        desc   `json:"config"`
		Layers        []desc `json:"layers"`
	}{2, ociManifest, desc{"application/vnd.oci.image.config.v1+json", config.Digest, config.Size}, []desc{}}
	for _, l := range layers {
		m.Layers = append(m.Layers, desc{"application/vnd.oci.image.layer.v1.tar+gzip", l.Digest, l.Size})
	}
	b, _ := json.Marshal(m)
	return b
}

// pushImage pushes a config and one layer and tags a manifest over them.
func pushImage(t *testing.T, s *storage.Store, repo, tag string, seed byte) (digest.Digest, []storage.Descriptor) {
	t.Helper()
	cfg := pushBlob(t, s, repo, []byte(fmt.Sprintf(`{"seed":%d}`, seed)))
	layer := pushBlob(t, s, repo, randomBytes(seed, 1000+int(seed)))
	desc, _, err := s.PutManifest(context.Background(), repo, tag, ociManifest, imageManifest(cfg, layer))
	if err != nil {
		t.Fatalf("PutManifest: %v", err)
	}
	return desc.Digest, []storage.Descriptor{cfg, layer}
}

func readBlob(t *testing.T, s *storage.Store, repo string, d digest.Digest) []byte {
	t.Helper()
	rc, _, err := s.OpenBlob(context.Background(), repo, d)
	if err != nil {
		t.Fatalf("OpenBlob(%s): %v", d, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Each PATCH of a chunked upload lands on the other process; the upload
// state (data, offset, hash state) is found in the bucket every time.
func TestChunkedUploadAlternatesBetweenStores(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		ctx := context.Background()
		s1, s2, _ := twoStores(t, s)
		stores := []*storage.Store{s1, s2}
		content := randomBytes(30, 3*MinChunkSize+777)
		chunks := []int{1 << 20, 3 << 20, 4 << 20, 1, MinChunkSize, 2<<20 + 3}
		u, err := s1.NewUpload(ctx, "team/app")
		if err != nil {
			t.Fatal(err)
		}
		off := 0
		for i, n := range append(chunks, len(content)-sum(chunks)) {
			st := stores[i%2]
			u, err := st.Upload(ctx, "team/app", u.ID())
			if err != nil {
				t.Fatalf("chunk %d: reopening on store %d: %v", i, i%2+1, err)
			}
			if u.Size() != int64(off) {
				t.Fatalf("chunk %d: store %d sees %d bytes, want %d", i, i%2+1, u.Size(), off)
			}
			size, err := u.Append(ctx, int64(off), bytes.NewReader(content[off:off+n]))
			if err != nil || size != int64(off+n) {
				t.Fatalf("chunk %d: Append = %d, %v", i, size, err)
			}
			off += n
		}
		// A chunk at a stale offset is refused, whichever store gets it.
		if _, err := u.Append(ctx, 0, bytes.NewReader([]byte("x"))); !errors.Is(err, storage.ErrRangeInvalid) {
			t.Fatalf("stale offset: %v", err)
		}
		u2, err := s2.Upload(ctx, "team/app", u.ID())
		if err != nil {
			t.Fatal(err)
		}
		desc, err := u2.Commit(ctx, sha256Of(content))
		if err != nil || desc.Size != int64(len(content)) {
			t.Fatalf("Commit = %+v, %v", desc, err)
		}
		if got := readBlob(t, s1, "team/app", desc.Digest); !bytes.Equal(got, content) {
			t.Fatalf("blob read back: %d bytes, want %d", len(got), len(content))
		}

		// A commit under the wrong digest publishes nothing.
		bad, err := s2.NewUpload(ctx, "team/app")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bad.Append(ctx, 0, bytes.NewReader(content[:MinChunkSize+1])); err != nil {
			t.Fatal(err)
		}
		bad, _ = s1.Upload(ctx, "team/app", bad.ID())
		if _, err := bad.Commit(ctx, sha256Of(content)); !errors.Is(err, storage.ErrDigestInvalid) {
			t.Fatalf("wrong digest: %v", err)
		}
		if _, err := s2.StatBlob(ctx, "team/app", sha256Of(content[:MinChunkSize+1])); !errors.Is(err, storage.ErrBlobUnknown) {
			t.Fatalf("content of a failed commit is visible: %v", err)
		}
	})
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

func TestHealthManifestsAndTagsWorkAcrossStores(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		ctx := context.Background()
		s1, s2, d1 := twoStores(t, s)
		if err := s1.Check(ctx); err != nil {
			t.Fatalf("health check: %v", err)
		}
		if err := storage.New(d1, storage.Options{ReadOnly: true}).Check(ctx); err != nil {
			t.Fatalf("read-only health check: %v", err)
		}
		cfg := s.config(t)
		cfg.Bucket = "no-such-bucket"
		if err := storage.New(s.newDriver(t, cfg), storage.Options{ReadOnly: true}).Check(ctx); err == nil {
			t.Fatal("health check passed on a missing bucket")
		}
		d, blobs := pushImage(t, s1, "team/app", "v1", 1)
		m, err := s2.GetManifest(ctx, "team/app", "v1")
		if err != nil || m.Digest != d || m.MediaType != ociManifest {
			t.Fatalf("GetManifest on the other store = %+v, %v", m.Descriptor, err)
		}
		if got := readBlob(t, s2, "team/app", blobs[1].Digest); !bytes.Equal(got, randomBytes(1, 1001)) {
			t.Fatal("layer differs")
		}
		pushImage(t, s2, "team/app", "v2", 2)
		pushImage(t, s2, "team/app-x", "latest", 3)
		pushImage(t, s1, "team", "latest", 4)
		tags, _, err := s1.Tags(ctx, "team/app", "", -1)
		if err != nil || !slices.Equal(tags, []string{"v1", "v2"}) {
			t.Fatalf("Tags = %v, %v", tags, err)
		}
		repos, _, err := s2.Catalog(ctx, "", -1)
		if want := []string{"team", "team/app", "team/app-x"}; err != nil || !slices.Equal(repos, want) {
			t.Fatalf("Catalog = %v, %v; want %v", repos, err, want)
		}
		if err := s2.DeleteTag(ctx, "team/app", "v1"); err != nil {
			t.Fatal(err)
		}
		if _, err := s1.GetManifest(ctx, "team/app", "v1"); !errors.Is(err, storage.ErrManifestUnknown) {
			t.Fatalf("deleted tag: %v", err)
		}
		if _, err := s1.GetManifest(ctx, "team/app", d.String()); err != nil {
			t.Fatalf("the manifest stays reachable by digest: %v", err)
		}
	})
}

// Two registries pushing the same tag at once must leave one answer that
// every process agrees on.
func TestConcurrentPushesOfOneTagAgree(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		ctx := context.Background()
		s1, s2, _ := twoStores(t, s)
		for round := range 3 {
			var wg sync.WaitGroup
			pushed := make([]digest.Digest, 2)
			for i, st := range []*storage.Store{s1, s2} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					body := []byte(fmt.Sprintf(`{"round":%d,"store":%d}`, round, i))
					cfg, err := st.PutBlob(ctx, "app", sha256Of(body), bytes.NewReader(body), int64(len(body)))
					if err != nil {
						t.Errorf("store %d: %v", i+1, err)
						return
					}
					desc, _, err := st.PutManifest(ctx, "app", "latest", ociManifest, imageManifest(cfg))
					if err != nil {
						t.Errorf("store %d: %v", i+1, err)
						return
					}
					pushed[i] = desc.Digest
				}()
			}
			wg.Wait()
			m1, err1 := s1.GetManifest(ctx, "app", "latest")
			m2, err2 := s2.GetManifest(ctx, "app", "latest")
			if err1 != nil || err2 != nil || m1.Digest != m2.Digest || !slices.Contains(pushed, m1.Digest) {
				t.Fatalf("round %d: stores answer %s (%v) and %s (%v); pushed %v", round, m1.Digest, err1, m2.Digest, err2, pushed)
			}
		}
	})
}

func TestGarbageCollectionKeepsYoungBlobsAndTaggedImages(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		ctx := context.Background()
		s1, s2, _ := twoStores(t, s)
		d, blobs := pushImage(t, s1, "app", "v1", 7)
		orphan := pushBlob(t, s2, "app", randomBytes(8, MinChunkSize+100))

		// Default grace period: a blob pushed moments ago may belong to a
		// push in flight, so nothing goes.
		res, err := s2.GarbageCollect(ctx, storage.GCOptions{})
		if err != nil || res.BlobsDeleted != 0 {
			t.Fatalf("GC with grace: %+v, %v", res, err)
		}
		if _, err := s1.StatBlob(ctx, "app", orphan.Digest); err != nil {
			t.Fatalf("young orphan collected: %v", err)
		}

		res, err = s2.GarbageCollect(ctx, storage.GCOptions{GracePeriod: -1})
		if err != nil || res.BlobsDeleted != 1 || res.Deleted[len(res.Deleted)-1] != "blob "+orphan.Digest.String() {
			t.Fatalf("GC without grace: %+v, %v", res, err)
		}
		if _, err := s1.StatBlob(ctx, "app", orphan.Digest); !errors.Is(err, storage.ErrBlobUnknown) {
			t.Fatalf("orphan still served: %v", err)
		}
		if _, err := s1.GetManifest(ctx, "app", "v1"); err != nil {
			t.Fatalf("tagged manifest: %v", err)
		}
		for _, b := range blobs {
			if _, err := s1.StatBlob(ctx, "app", b.Digest); err != nil {
				t.Fatalf("blob of a tagged image collected: %v", err)
			}
		}
		if _, err := s2.GetManifest(ctx, "app", d.String()); err != nil {
			t.Fatal(err)
		}
	})
}

// Purging an abandoned session frees its multipart upload too.
func TestPurgeUploadsAbortsMultipartUploads(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		ctx := context.Background()
		s1, s2, d := twoStores(t, s)
		u, err := s1.NewUpload(ctx, "app")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := u.Append(ctx, 0, bytes.NewReader(randomBytes(9, MinChunkSize+1))); err != nil {
			t.Fatal(err)
		}
		data := "/docker/registry/v2/repositories/app/_uploads/" + u.ID() + "/data"
		if len(uploadsOf(t, s, d, data)) != 1 {
			t.Fatal("expected a multipart upload in progress")
		}
		n, err := s2.PurgeUploads(ctx, 1) // anything started before now
		if err != nil || n != 1 {
			t.Fatalf("PurgeUploads = %d, %v", n, err)
		}
		if ids := uploadsOf(t, s, d, data); len(ids) != 0 {
			t.Fatalf("multipart upload left behind: %v", ids)
		}
		if _, err := s1.Upload(ctx, "app", u.ID()); !errors.Is(err, storage.ErrUploadUnknown) {
			t.Fatalf("purged session: %v", err)
		}
	})
}

// droppedClient ends a request body the way a vanishing client does: the
// request's context is cancelled and the read fails.
type droppedClient struct{ cancel context.CancelFunc }

func (c droppedClient) Read([]byte) (int, error) {
	c.cancel()
	return 0, errors.New("connection reset")
}

// A PATCH cut off midway keeps nothing of its chunk, and the client
// resumes where the previous chunk ended through another process (one
// registry killed mid-upload, say).
func TestInterruptedChunkResumesOnTheOtherStore(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		ctx := context.Background()
		s1, s2, _ := twoStores(t, s)
		content := randomBytes(40, 3*MinChunkSize+5)
		good, cut := MinChunkSize+1, 2*MinChunkSize+3<<20 // the broken chunk uploads a part
		u, err := s1.NewUpload(ctx, "app")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := u.Append(ctx, 0, bytes.NewReader(content[:good])); err != nil {
			t.Fatal(err)
		}
		reqCtx, cancel := context.WithCancel(ctx)
		n, err := u.Append(reqCtx, int64(good), io.MultiReader(bytes.NewReader(content[good:cut]), droppedClient{cancel}))
		if err == nil {
			t.Fatal("Append of a broken stream reported no error")
		}
		if n != int64(good) {
			t.Fatalf("after a broken chunk the upload has %d bytes, want the %d before it", n, good)
		}
		u2, err := s2.Upload(ctx, "app", u.ID())
		if err != nil || u2.Size() != n {
			t.Fatalf("the other store sees %d bytes (%v), want %d", u2.Size(), err, n)
		}
		if _, err := u2.Append(ctx, n, bytes.NewReader(content[n:])); err != nil {
			t.Fatal(err)
		}
		desc, err := u2.Commit(ctx, sha256Of(content))
		if err != nil {
			t.Fatal(err)
		}
		if got := readBlob(t, s1, "app", desc.Digest); !bytes.Equal(got, content) {
			t.Fatal("resumed blob differs")
		}
	})
}
