package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/pkg/storage"
)

// rowListing is row 7: a full paginated walk of the catalog of many
// repositories and of the tags of one repository with many tags, timed,
// with the registry's memory before and during each walk. The store is
// filled through pkg/storage (see seedDriver) and served by a registry
// started for this row, so its peak memory is this row's alone.
func (b *bench) rowListing() ([]result, error) {
	root := filepath.Join(b.dir, "listing")
	t := time.Now()
	if err := seedListing(root, b.cfg.repos, b.cfg.tags); err != nil {
		return nil, err
	}
	seeded := time.Since(t)
	reg, err := b.startRegistry("registry-listing", root, true)
	if err != nil {
		return nil, err
	}
	defer reg.stop()
	t = time.Now()
	settle(reg.Pid())
	settled := time.Since(t)
	b.perfExtra(reg, "7")
	tok, _, err := fetchToken(b.auth.URL(), &b.files.admin, false, "registry:catalog:*", "repository:tags/app:pull")
	if err != nil {
		return nil, err
	}
	c := newRegClient(reg.URL(), tok.Token, 1)
	var out []result
	for _, w := range []struct {
		id, what, path, field string
		want                  int
	}{
		{"7a", fmt.Sprintf("catalog walk, %d repositories, n=%d", b.cfg.repos, b.cfg.page), "/v2/_catalog", "repositories", b.cfg.repos + 1},
		{"7b", fmt.Sprintf("tags walk, %d tags in one repository, n=%d", b.cfg.tags, b.cfg.page), "/v2/tags/app/tags/list", "tags", b.cfg.tags + 1},
	} {
		before, err := readMemory(reg.Pid())
		if err != nil {
			return out, err
		}
		ctx, stop := context.WithCancel(context.Background())
		peakc := sampleRSS(ctx, reg.Pid(), 20*time.Millisecond)
		start := time.Now()
		n, pages, err := walk(c, w.path, w.field, b.cfg.page)
		el := time.Since(start)
		stop()
		peak := <-peakc
		if err != nil {
			return out, err
		}
		if n != w.want {
			return out, fmt.Errorf("%s: walked %d names, want %d", w.path, n, w.want)
		}
		growth := peak - before.rss
		r := result{
			row: w.id, what: w.what,
			figure:  fmt.Sprintf("%.2f s, %d pages; RSS %s → peak %s", el.Seconds(), pages, mib(before.rss), mib(peak)),
			target:  "< 1 s, memory flat (peak ≤ RSS before + 16 MiB)",
			verdict: judge(el < time.Second && growth <= 16<<20),
		}
		if w.id == "7a" {
			r.note = fmt.Sprintf("Repositories ns<i>/app<j> (100 per namespace) plus tags/app, made with pkg/storage in %.1f s; one client following Link headers with a token; a registry process started for the row (idle after %.1f s: its first purge of abandoned uploads walks the store); RSS sampled every 20 ms.", seeded.Seconds(), settled.Seconds())
		}
		out = append(out, r)
	}
	return out, nil
}

// walk follows a listing's Link headers from the first page and returns
// how many names it saw and how many pages it took.
func walk(c *regClient, path, field string, n int) (names, pages int, err error) {
	u := path + "?n=" + itoa(n)
	last := ""
	for u != "" {
		resp, err := c.do(http.MethodGet, u, nil, 0, nil)
		if err != nil {
			return names, pages, err
		}
		var body map[string]json.RawMessage
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return names, pages, fmt.Errorf("GET %s: %s", u, resp.Status)
		}
		if err != nil {
			return names, pages, err
		}
		var list []string
		if err := json.Unmarshal(body[field], &list); err != nil {
			return names, pages, err
		}
		for _, s := range list {
			if s <= last {
				return names, pages, fmt.Errorf("GET %s: %q after %q: not in order", u, s, last)
			}
			last = s
		}
		names += len(list)
		pages++
		u = nextLink(resp.Header.Get("Link"))
	}
	return names, pages, nil
}

// nextLink extracts the URL of a Link: <...>; rel="next" header.
func nextLink(h string) string {
	if !strings.Contains(h, `rel="next"`) {
		return ""
	}
	start, end := strings.IndexByte(h, '<'), strings.IndexByte(h, '>')
	if start < 0 || end < start {
		return ""
	}
	u, err := url.Parse(h[start+1 : end])
	if err != nil {
		return ""
	}
	return u.RequestURI()
}

// seedListing fills root with repos repositories of one image each and one
// repository, tags/app, with tags tags, through pkg/storage.
func seedListing(root string, repos, tags int) error {
	s, err := newSeedStore(root)
	if err != nil {
		return err
	}
	ctx := context.Background()
	img, err := seedImage(ctx, s, "tags/app")
	if err != nil {
		return err
	}
	jobs := make(chan func() error)
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for job := range jobs {
				if err := job(); err != nil {
					select {
					case errc <- err:
					default:
					}
				}
			}
		})
	}
	for i := range repos {
		repo := fmt.Sprintf("ns%03d/app%03d", i/100, i%100)
		jobs <- func() error { return img.copyTo(ctx, s, "tags/app", repo, "latest") }
	}
	for i := range tags {
		tag := fmt.Sprintf("v%05d", i)
		jobs <- func() error { return s.TagManifest(ctx, "tags/app", tag, img.manifest) }
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// seededImage is a small image stored once and linked into more
// repositories by mounting its blobs.
type seededImage struct {
	blobs    []digest.Digest
	body     []byte
	manifest digest.Digest
}

func seedImage(ctx context.Context, s *storage.Store, repo string) (*seededImage, error) {
	layer := make([]byte, 1024)
	fillRandom(layer, 7)
	config := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["%s"]}}`, digest.FromBytes(layer)))
	img := &seededImage{}
	for _, blob := range [][]byte{config, layer} {
		d := digest.FromBytes(blob)
		if _, err := s.PutBlob(ctx, repo, d, strings.NewReader(string(blob)), int64(len(blob))); err != nil {
			return nil, err
		}
		img.blobs = append(img.blobs, d)
	}
	img.body, _ = json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     ociManifest,
		"config":        map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": img.blobs[0], "size": len(config)},
		"layers":        []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": img.blobs[1], "size": len(layer)}},
	})
	desc, _, err := s.PutManifest(ctx, repo, "latest", ociManifest, img.body)
	if err != nil {
		return nil, err
	}
	img.manifest = desc.Digest
	return img, nil
}

// copyTo makes the image available as to:tag, as a push that mounts every
// blob from from would.
func (img *seededImage) copyTo(ctx context.Context, s *storage.Store, from, to, tag string) error {
	for _, d := range img.blobs {
		if _, err := s.MountBlob(ctx, from, to, d); err != nil {
			return err
		}
	}
	_, _, err := s.PutManifest(ctx, to, tag, ociManifest, img.body)
	return err
}

// mib renders a byte count in MiB.
func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// seedDriver is the filesystem driver without the fsyncs of PutContent,
// for filling a store before a row: what it writes goes through the real
// Store code (so the layout is exactly what the registry writes), only
// faster than durable writes would allow. Nothing reads the store while it
// is being filled, so plain writes are enough.
type seedDriver struct {
	*storage.FilesystemDriver
}

func newSeedStore(root string) (*storage.Store, error) {
	d, err := storage.NewFilesystemDriver(root)
	if err != nil {
		return nil, err
	}
	return storage.New(seedDriver{d}, storage.Options{}), nil
}

// PutContent writes the file in place, without syncing.
func (d seedDriver) PutContent(_ context.Context, p string, content []byte) error {
	fp := filepath.Join(d.Root(), filepath.FromSlash(p))
	if err := os.MkdirAll(filepath.Dir(fp), 0o755); err != nil {
		return err
	}
	return os.WriteFile(fp, content, 0o644)
}
