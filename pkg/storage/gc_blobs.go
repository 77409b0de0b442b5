package storage

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/pkg/reference"
)

// sweepBlobs walks blobs/ and removes every data file that marking did not
// reach and that is older than the grace period, with its links; then
// removes old layer links whose data is gone, and stale temporary files
// left by crashes.
func (g *collector) sweepBlobs(ctx context.Context) error {
	seen := map[digest.Digest]bool{}
	err := g.s.d.Walk(ctx, blobsRoot, func(fi FileInfo) error {
		if fi.IsDir {
			return nil
		}
		base := path.Base(fi.Path)
		if strings.HasPrefix(base, ".tmp-") {
			return g.sweepTemp(ctx, fi)
		}
		d, ok := blobDigestFromPath(fi.Path)
		if !ok {
			return nil
		}
		seen[d] = true
		if g.marked[d] {
			return nil
		}
		return g.sweepBlob(ctx, d)
	})
	if ignoreNotFound(err) != nil {
		return err
	}
	for d, dirs := range g.layerLinks {
		if seen[d] || g.marked[d] {
			continue
		}
		if err := g.sweepDanglingLinks(ctx, d, dirs); err != nil {
			return err
		}
	}
	return nil
}

// blobDigestFromPath recognises blobs/<alg>/<xx>/<hex>/data.
func blobDigestFromPath(p string) (digest.Digest, bool) {
	rel, ok := strings.CutPrefix(p, blobsRoot+"/")
	if !ok {
		return "", false
	}
	parts := strings.Split(rel, "/")
	if len(parts) != 4 || parts[3] != "data" {
		return "", false
	}
	d, err := reference.ParseDigest(parts[0] + ":" + parts[2])
	if err != nil || !strings.HasPrefix(parts[2], parts[1]) {
		return "", false
	}
	return d, true
}

// sweepBlob removes one unmarked blob unless its data or a link to it is
// young. Holding the blob's lock makes the check and the removal one step
// for this process's uploads, mounts and manifest pushes.
func (g *collector) sweepBlob(ctx context.Context, d digest.Digest) error {
	unlock := g.s.blobLocks.lock(d.String())
	defer unlock()
	fi, err := g.s.d.Stat(ctx, blobDataPath(d))
	if errors.Is(err, ErrPathNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.ModTime.After(g.cutoff) {
		return nil
	}
	young, err := g.anyYoung(ctx, g.layerLinks[d])
	if err != nil || young {
		return err
	}
	// Manifests are blobs too; one re-pushed since marking has a fresh
	// revision link somewhere.
	for _, rm := range g.repos {
		if _, ok := rm.revisions[d]; !ok {
			continue
		}
		if young, err := g.anyYoung(ctx, []string{revisionDir(rm.name, d)}); err != nil || young {
			return err
		}
	}
	g.record("blob "+d.String(), "storage: gc: removing blob", "digest", d, "size", fi.Size)
	g.res.BlobsDeleted++
	g.res.BytesFreed += fi.Size
	if g.opts.DryRun {
		return nil
	}
	// Links first: a link without data is harmless, but removing the data
	// first and crashing would leave links that promise a missing blob.
	for _, dir := range g.layerLinks[d] {
		if err := ignoreNotFound(g.s.d.Delete(ctx, dir)); err != nil {
			return err
		}
	}
	return ignoreNotFound(g.s.d.Delete(ctx, blobDir(d)))
}

// anyYoung reports whether any of the link directories holds a link
// modified after the cutoff.
func (g *collector) anyYoung(ctx context.Context, dirs []string) (bool, error) {
	for _, dir := range dirs {
		fi, err := g.s.d.Stat(ctx, dir+"/link")
		if errors.Is(err, ErrPathNotFound) {
			continue
		}
		if err != nil {
			return false, err
		}
		if fi.ModTime.After(g.cutoff) {
			return true, nil
		}
	}
	return false, nil
}

// sweepDanglingLinks removes old layer links to a blob whose data is gone
// (removed by registry:2's collector, or by hand), so the repository stops
// advertising it.
func (g *collector) sweepDanglingLinks(ctx context.Context, d digest.Digest, dirs []string) error {
	unlock := g.s.blobLocks.lock(d.String())
	defer unlock()
	if _, err := g.s.d.Stat(ctx, blobDataPath(d)); !errors.Is(err, ErrPathNotFound) {
		return err // present after all (a push since the walk), or an I/O error
	}
	for _, dir := range dirs {
		fi, err := g.s.d.Stat(ctx, dir+"/link")
		if errors.Is(err, ErrPathNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if fi.ModTime.After(g.cutoff) {
			continue
		}
		g.record(fmt.Sprintf("link %s", strings.TrimPrefix(dir, reposRoot+"/")), "storage: gc: removing link to missing blob", "path", dir)
		if g.opts.DryRun {
			continue
		}
		if err := ignoreNotFound(g.s.d.Delete(ctx, dir)); err != nil {
			return err
		}
	}
	return nil
}

// sweepTemp removes temporary files older than the grace period: they are
// what a crash during an atomic write leaves, and nothing ever reads them.
func (g *collector) sweepTemp(ctx context.Context, fi FileInfo) error {
	if fi.ModTime.After(g.cutoff) {
		return nil
	}
	g.log.Info("storage: gc: removing stale temporary file", "path", fi.Path, "dry_run", g.opts.DryRun)
	if g.opts.DryRun {
		return nil
	}
	return ignoreNotFound(g.s.d.Delete(ctx, fi.Path))
}
