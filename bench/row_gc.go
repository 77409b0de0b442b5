package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// rowGC is row 10: `registry garbage-collect` over a store of many
// repositories and blobs, a fifth of which nothing references. The store
// is written in registry:2's layout directly (pkg/storage would fsync each
// of the hundred thousand files), as registry:2 or we would have left it.
func (b *bench) rowGC() ([]result, error) {
	root := filepath.Join(b.dir, "gc")
	t := time.Now()
	orphans, err := seedGC(root, b.cfg.gcRepos, b.cfg.gcBlobs)
	if err != nil {
		return nil, err
	}
	seeded := time.Since(t)
	// The default grace period (1 h) would protect everything just
	// written; one second protects nothing older than the command.
	time.Sleep(time.Until(t.Add(seeded + 1100*time.Millisecond)))
	cfgFile := filepath.Join(b.dir, "gc.yml")
	if err := writeRegistryConfig(cfgFile, root, 5999, ""); err != nil {
		return nil, err
	}
	out, err := os.Create(filepath.Join(b.dir, "gc.out"))
	if err != nil {
		return nil, err
	}
	defer out.Close()
	var stderr bytes.Buffer
	cmd := exec.Command(filepath.Join(b.cfg.bin, "registry"), "garbage-collect", "--grace-period", "1s", cfgFile)
	cmd.Stdout, cmd.Stderr, cmd.Env = out, &stderr, []string{}
	if b.cfg.perfDir != "" {
		cmd = exec.Command("perf", append([]string{"record", "-F", "997", "-g", "-o", filepath.Join(b.cfg.perfDir, "row10-gc.data"), "--", cmd.Path}, cmd.Args[1:]...)...)
		cmd.Stdout, cmd.Stderr, cmd.Env = out, &stderr, []string{}
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	// Not the rusage of the child: exec records the harness's own peak
	// there (the child shares its memory until exec).
	ctx, stop := context.WithCancel(context.Background())
	hwm := sampleHWM(ctx, cmd.Process.Pid, 20*time.Millisecond)
	err = cmd.Wait()
	el := time.Since(start)
	stop()
	maxRSS := <-hwm
	if err != nil {
		return nil, fmt.Errorf("garbage-collect: %v: %s", err, tail(stderr.String(), 10))
	}
	summary := lastLine(filepath.Join(b.dir, "gc.out"))
	want := fmt.Sprintf("deleted 0 manifests and %d blobs", orphans)
	r := result{
		row: "10", what: fmt.Sprintf("garbage collection, %d repositories, %d blobs", b.cfg.gcRepos, b.cfg.gcBlobs),
		figure:  fmt.Sprintf("%.1f s, peak RSS %s", el.Seconds(), mib(maxRSS)),
		target:  "< 30 s",
		verdict: judge(el < 30*time.Second),
		note: fmt.Sprintf("`registry garbage-collect --grace-period 1s` on a store written in %.1f s: per repository one tagged image (manifest, config, %d layers), plus %d unreferenced blobs each linked in a repository, as cancelled pushes leave them. It printed %q.",
			seeded.Seconds(), b.cfg.gcBlobs*4/5/b.cfg.gcRepos-2, orphans, summary),
	}
	if !strings.HasPrefix(summary, want) {
		r.verdict = failed
		r.note += fmt.Sprintf(" Expected %q.", want)
	}
	return []result{r}, nil
}

// seedGC writes repos repositories holding one tagged image each and
// enough unreferenced blobs to make blobs in all, in registry:2's layout.
// It returns how many blobs nothing references.
func seedGC(root string, repos, blobs int) (int, error) {
	referenced := blobs * 4 / 5
	perRepo := referenced / repos // manifest + config + layers
	orphans := blobs - perRepo*repos
	v2 := filepath.Join(root, "docker", "registry", "v2")
	var mu sync.Mutex
	var firstErr error
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	}
	put := func(rel string, data []byte) {
		p := filepath.Join(v2, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			fail(err)
			return
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			fail(err)
		}
	}
	blob := func(content []byte) string {
		sum := sha256.Sum256(content)
		h := hex.EncodeToString(sum[:])
		put(filepath.Join("blobs", "sha256", h[:2], h, "data"), content)
		return h
	}
	link := func(repo, kind, h string) {
		put(filepath.Join("repositories", repo, kind, "sha256", h, "link"), []byte("sha256:"+h))
	}
	var wg sync.WaitGroup
	work := make(chan int)
	for range 4 {
		wg.Go(func() {
			for i := range work {
				repo := fmt.Sprintf("gc/r%04d", i)
				if i >= repos { // an orphan blob, linked where it was pushed
					h := blob(fmt.Appendf(nil, "orphan %d", i-repos))
					link(fmt.Sprintf("gc/r%04d", (i-repos)%repos), "_layers", h)
					continue
				}
				layers := make([]map[string]any, 0, perRepo-2)
				for j := range perRepo - 2 {
					c := fmt.Appendf(nil, "layer %d of %s", j, repo)
					h := blob(c)
					link(repo, "_layers", h)
					layers = append(layers, map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:" + h, "size": len(c)})
				}
				cfg := fmt.Appendf(nil, `{"architecture":"amd64","os":"linux","repo":%q}`, repo)
				ch := blob(cfg)
				link(repo, "_layers", ch)
				body, _ := json.Marshal(map[string]any{
					"schemaVersion": 2, "mediaType": ociManifest,
					"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + ch, "size": len(cfg)},
					"layers": layers,
				})
				mh := blob(body)
				link(repo, "_manifests/revisions", mh)
				put(filepath.Join("repositories", repo, "_manifests", "tags", "latest", "current", "link"), []byte("sha256:"+mh))
				link(repo, "_manifests/tags/latest/index", mh)
			}
		})
	}
	for i := range repos + orphans {
		work <- i
	}
	close(work)
	wg.Wait()
	return orphans, firstErr
}

// lastLine returns the last non-empty line of a file.
func lastLine(file string) string {
	b, _ := os.ReadFile(file)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}
