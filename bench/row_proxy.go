package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
)

// pushImageLayer pushes an image of one layer (its config, the layer, an
// OCI manifest) to repo:tag and returns the manifest digest.
func pushImageLayer(c *regClient, repo, tag string, layer []byte) (digest.Digest, error) {
	config := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["%s"]}}`, digest.FromBytes(layer)))
	desc := func(mt string, b []byte) map[string]any {
		return map[string]any{"mediaType": mt, "digest": digest.FromBytes(b), "size": len(b)}
	}
	for _, blob := range [][]byte{config, layer} {
		if _, err := c.pushMonolithic(repo, blob, digest.FromBytes(blob)); err != nil {
			return "", err
		}
	}
	m, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     ociManifest,
		"config":        desc("application/vnd.oci.image.config.v1+json", config),
		"layers":        []any{desc("application/vnd.oci.image.layer.v1.tar", layer)},
	})
	if err := c.putManifest(repo, tag, ociManifest, m); err != nil {
		return "", err
	}
	return digest.FromBytes(m), nil
}

// proxyRepo is where row 13 pushes its images on the upstream.
const proxyRepo = "bench/proxy"

// rowProxy is row 13 (issue 14): a pull-through cache (our registry with
// proxy.remoteurl) in front of an upstream (our registry with auth off,
// its own store). A cold pull goes through the cache while it stores the
// blob, beside pulling straight from the upstream; a cached pull is served
// from the cache's store, beside a plain pull of the same image from the
// upstream, which is an ordinary registry. Each round uses its own image,
// so every cold pull is really cold; the order alternates per round.
func (b *bench) rowProxy() ([]result, error) {
	upRoot, cacheRoot := filepath.Join(b.dir, "upstream"), filepath.Join(b.dir, "proxy-cache")
	up, err := b.startRegistry("upstream", upRoot, false)
	if err != nil {
		return nil, err
	}
	defer up.stop()
	cacheCfg := filepath.Join(b.dir, "proxy-cache.yml")
	cache, err := startProc(b.dir, "proxy-cache", filepath.Join(b.cfg.bin, "registry"), func(port int) ([]string, error) {
		return []string{"serve", cacheCfg}, writeRegistryConfig(cacheCfg, cacheRoot, port, fmt.Sprintf("proxy:\n  remoteurl: %q\n", up.URL()))
	})
	if err != nil {
		return nil, err
	}
	defer cache.stop()
	b.perfExtra(up, "13")
	b.perfExtra(cache, "13")

	size := b.cfg.blobMiB << 20
	data := b.data[:size]
	saved := binary.BigEndian.Uint64(data)
	defer binary.BigEndian.PutUint64(data, saved)
	upC, cacheC := newRegClient(up.URL(), "", 1), newRegClient(cache.URL(), "", 1)
	var layers []digest.Digest
	for i := range b.cfg.reps {
		binary.BigEndian.PutUint64(data, 0x9c0c4e00+uint64(i)) // a blob of its own per round
		layers = append(layers, digest.FromBytes(data))
		if _, err := pushImageLayer(upC, proxyRepo, fmt.Sprintf("r%d", i), data); err != nil {
			return nil, err
		}
	}
	buf := make([]byte, 1<<20)
	// Pushes write around the page cache: pull each image from the
	// upstream once, so that both the cold pull through the cache and the
	// straight pull find the upstream's blob in memory, whichever goes
	// first in its round.
	for i := range b.cfg.reps {
		if _, err := pullImage(upC, proxyRepo, fmt.Sprintf("r%d", i), buf); err != nil {
			return nil, err
		}
	}
	pull := func(rates *[]float64, c *regClient, tag string) func() error {
		return func() error {
			r, err := pullImage(c, proxyRepo, tag, buf)
			*rates = append(*rates, r)
			return err
		}
	}
	limit := &http.Client{Transport: newTransport(1)}
	// cold, direct and (for the note) what storing the blob costs at
	// best: row 1's bare sha256+write+fsync handler.
	var cold, direct, store, cached, plain []float64
	var coldCPU time.Duration // the cache's CPU time in cold pulls
	for i := range b.cfg.reps {
		tag := fmt.Sprintf("r%d", i)
		coldPull := pull(&cold, cacheC, tag)
		cachedBlob := filepath.Join(cacheRoot, strings.TrimPrefix(blobFile(layers[i].String()), "store/"))
		steps := []func() error{func() error {
			before := cpuTime(cache.Pid())
			err := coldPull()
			if err == nil {
				// The cache commits its copy after the client's last
				// byte: not timed, but done before the next step.
				err = waitForFile(cachedBlob, time.Minute)
			}
			coldCPU += cpuTime(cache.Pid()) - before
			return err
		}, pull(&direct, upC, tag), func() error {
			binary.BigEndian.PutUint64(data, 0x9c0c4e00+uint64(i))
			el, err := pushLimit(limit, b.limits.url+"/push", data, layers[i])
			store = append(store, mbps(int64(size), el))
			return err
		}}
		if err := inTurn(steps, i); err != nil {
			return nil, err
		}
		// As row 1 does after each push: what the cache wrote leaves the
		// page cache, so later writes land in recycled pages.
		if err := evict(cachedBlob); err != nil {
			return nil, fmt.Errorf("the cache did not store %s: %v", layers[i], err)
		}
	}
	// Both stores' blobs into the page cache once, so the cached and the
	// plain pull both serve from memory.
	for i := range b.cfg.reps {
		for _, c := range []*regClient{cacheC, upC} {
			if _, err := pullImage(c, proxyRepo, fmt.Sprintf("r%d", i), buf); err != nil {
				return nil, err
			}
		}
	}
	for i := range b.cfg.reps {
		tag := fmt.Sprintf("r%d", i)
		if err := inTurn([]func() error{pull(&cached, cacheC, tag), pull(&plain, upC, tag)}, i); err != nil {
			return nil, err
		}
	}
	mk := func(id, what string, fig, lim []float64, limWhat string, target float64) result {
		f, l := median(fig), median(lim)
		return result{
			row: id, what: what,
			figure:  fmt.Sprintf("%.0f MB/s", f),
			limit:   fmt.Sprintf("%.0f MB/s, %s", l, limWhat),
			ratio:   pct(f / l),
			target:  "≥ " + pct(target),
			verdict: judge(f >= target*l),
		}
	}
	r1 := mk("13a", fmt.Sprintf("pull-through cache, cold pull of a %d MiB image", b.cfg.blobMiB), cold, direct,
		fmt.Sprintf("pulled straight from the upstream (storing it at best: %.0f MB/s)", median(store)), 0.8)
	r1.note = fmt.Sprintf("A pull is GET manifest by tag, config and layer, one connection, auth off on both; the cache is our registry with proxy.remoteurl set to an upstream that is our registry with its own store. Each of the %d rounds pulls an image of its own (cold: the cache fetches it while storing and verifying it), alternating with the limit; medians. Runs (MB/s): cold %s (limit %s), cached %s (limit %s). Storing the blob at best through the page cache (row 1's bare sha256+write+fsync handler, same rounds): %s, median %.0f MB/s; the cache does not wait for that: the client's last byte goes once the sha256 of what it was sent matches, and the stored copy (written around the page cache, O_DIRECT) is fsynced and committed after. The cache used %.1f ms of CPU per MiB of cold pulls, on %d cores shared with the upstream and the client.",
		b.cfg.reps, fmtList(cold), fmtList(direct), fmtList(cached), fmtList(plain), fmtList(store), median(store),
		float64(coldCPU.Microseconds())/1e3/float64(b.cfg.reps*b.cfg.blobMiB), runtime.NumCPU())
	r2 := mk("13b", fmt.Sprintf("pull-through cache, cached pull of a %d MiB image", b.cfg.blobMiB), cached, plain, "plain pull from a registry (the upstream)", 0.9)
	return []result{r1, r2}, nil
}

// pullImage pulls repo:tag as a client does (manifest, config, layers)
// and returns the rate in MB/s over all the bytes.
func pullImage(c *regClient, repo, tag string, buf []byte) (float64, error) {
	start := time.Now()
	resp, err := c.do(http.MethodGet, "/v2/"+repo+"/manifests/"+tag, nil, 0, map[string]string{"Accept": manifestAccept})
	if err != nil {
		return 0, err
	}
	type descriptor struct {
		Digest string `json:"digest"`
	}
	var m struct {
		Config descriptor   `json:"config"`
		Layers []descriptor `json:"layers"`
	}
	err = json.NewDecoder(resp.Body).Decode(&m)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s manifest %s: %s", c.base, tag, resp.Status)
	}
	if err != nil {
		return 0, err
	}
	var total int64
	for _, d := range append([]descriptor{m.Config}, m.Layers...) {
		n, err := c.get("/v2/"+repo+"/blobs/"+d.Digest, "", buf)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return mbps(total, time.Since(start)), nil
}

// waitForFile waits until path exists.
func waitForFile(path string, limit time.Duration) error {
	for deadline := time.Now().Add(limit); ; time.Sleep(5 * time.Millisecond) {
		_, err := os.Stat(path)
		if err == nil || !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not appear within %v", path, limit)
		}
	}
}

// inTurn runs steps starting with step i (mod their number), so that
// each goes first in turn over the rounds.
func inTurn(steps []func() error, i int) error {
	for k := range steps {
		if err := steps[(i+k)%len(steps)](); err != nil {
			return err
		}
	}
	return nil
}
