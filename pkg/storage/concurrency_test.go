package storage

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/pkg/manifest"
)

func TestConcurrentPushesOfTheSameBlobAndTagAllSucceed(t *testing.T) {
	s, root := newStore(t)
	ctx := context.Background()
	config := []byte(`{"same":"config"}`)
	layer := bytes.Repeat([]byte("same layer "), 200_000) // ~2 MB
	cfgD, layerD := sha256Of(config), sha256Of(layer)
	body := imageBody(manifest.MediaTypeOCIManifest,
		Descriptor{Digest: cfgD, Size: int64(len(config))},
		[]Descriptor{{Digest: layerD, Size: int64(len(layer))}}, nil, "")

	const pushers = 20
	errs := make(chan error, pushers)
	var wg sync.WaitGroup
	for i := range pushers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Alternate a second store on the same root: the same goes
			// for two processes.
			st := s
			if i%2 == 1 {
				var err error
				if st, err = NewFilesystem(root, Options{}); err != nil {
					errs <- err
					return
				}
			}
			if _, err := st.PutBlob(ctx, "app", cfgD, bytes.NewReader(config), int64(len(config))); err != nil {
				errs <- err
				return
			}
			u, err := st.NewUpload(ctx, "app")
			if err != nil {
				errs <- err
				return
			}
			half := int64(len(layer) / 2)
			if _, err := u.Append(ctx, 0, bytes.NewReader(layer[:half])); err != nil {
				errs <- err
				return
			}
			if _, err := u.Append(ctx, half, bytes.NewReader(layer[half:])); err != nil {
				errs <- err
				return
			}
			if _, err := u.Commit(ctx, layerD); err != nil {
				errs <- err
				return
			}
			if _, _, err := st.PutManifest(ctx, "app", "latest", manifest.MediaTypeOCIManifest, body); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	for _, d := range []digest.Digest{cfgD, layerD, sha256Of(body)} {
		entries, err := os.ReadDir(filepath.Dir(blobFile(root, d)))
		if err != nil || len(entries) != 1 || entries[0].Name() != "data" {
			t.Errorf("blob dir of %s holds %v (%v), want exactly one data file", d, entries, err)
		}
	}
	if err := readable(t, s, "app", "latest"); err != nil {
		t.Fatalf("tag does not resolve to a complete image: %v", err)
	}
	if problems, err := s.Fsck(ctx); err != nil || len(problems) != 0 {
		t.Fatalf("Fsck = %v, %v", problems, err)
	}
	assertNoUploads(t, root, "app")
}
