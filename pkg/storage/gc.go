package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/pkg/manifest"
	"github.com/wharf-registry/wharf/pkg/reference"
)

// DefaultGracePeriod is how young a blob or untagged manifest must be for
// garbage collection to leave it alone when GCOptions.GracePeriod is 0.
const DefaultGracePeriod = time.Hour

// GCOptions configure GarbageCollect.
type GCOptions struct {
	// DryRun lists what would be removed and removes nothing.
	DryRun bool
	// DeleteUntagged removes manifests that no tag reaches, except children
	// of kept indexes and referrers of kept manifests.
	DeleteUntagged bool
	// GracePeriod protects anything younger: a blob whose data or any link
	// is younger, an untagged manifest whose revision link is younger. 0
	// means DefaultGracePeriod; a negative value means none (tests only:
	// without it, collecting while serving loses blobs of pushes in flight).
	GracePeriod time.Duration
	// Logger receives one line per removal; nil uses the store's logger.
	Logger *slog.Logger
	// Holder, when not "", makes the collection take the storage's
	// garbage collection lease under that name first (see AcquireGCLease),
	// renew it while it runs and release it at the end. A lease another
	// collector holds makes it return a *LeaseHeldError having done
	// nothing. A dry run takes no lease.
	Holder string
	// LeaseTTL is the lease's life between renewals; 0 means
	// DefaultLeaseTTL.
	LeaseTTL time.Duration
}

// GCResult tells what a collection removed (or, in a dry run, would remove).
type GCResult struct {
	ManifestsDeleted, BlobsDeleted int
	BytesFreed                     int64
	// Deleted names each removal: "manifest <repo>@<digest>", "blob
	// <digest>", or "link <repo>/_layers/<alg>/<hex>" for a link to a blob
	// already gone.
	Deleted []string
}

// GarbageCollect removes blobs no kept manifest references and, with
// DeleteUntagged, untagged manifests. It is safe while the registry serves:
//
//   - mark: every tag, and every revision unless DeleteUntagged (then the
//     untagged ones younger than the grace period), is a root; index
//     children and referrers of kept manifests are kept, recursively;
//   - re-mark: revisions and tags that appeared while marking become roots;
//   - sweep, one item at a time under the same per-blob lock that uploads,
//     mounts and manifest pushes take: an untagged manifest is removed only
//     if its revision link is still old and no tag names it; a blob only if
//     its data and every link to it are older than the grace period.
//
// Pushes refresh those mtimes (a commit or mount touches the data, a
// manifest push touches the links it relies on), so a push that reuses an
// old blob protects it. Across processes (CLI collection while a server
// runs) the locks do not apply and the grace period alone protects pushes.
func (s *Store) GarbageCollect(ctx context.Context, opts GCOptions) (GCResult, error) {
	if opts.Holder == "" || opts.DryRun {
		return s.collect(ctx, opts)
	}
	ttl := opts.LeaseTTL
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	lease, err := s.AcquireGCLease(ctx, opts.Holder, ttl, time.Now())
	if err != nil {
		return GCResult{}, err
	}
	ctx, release := s.keepLease(ctx, lease, ttl)
	res, err := s.collect(ctx, opts)
	if cause := context.Cause(ctx); err != nil && cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause // the lease was lost: say so rather than "canceled"
	}
	release()
	return res, err
}

// collect is GarbageCollect without the lease.
func (s *Store) collect(ctx context.Context, opts GCOptions) (GCResult, error) {
	grace := opts.GracePeriod
	if grace == 0 {
		grace = DefaultGracePeriod
	} else if grace < 0 {
		grace = 0
	}
	log := opts.Logger
	if log == nil {
		log = s.log
	}
	start := time.Now()
	g := &collector{
		s: s, opts: opts, log: log, start: start, cutoff: start.Add(-grace),
		repos:      map[string]*repoMarks{},
		marked:     map[digest.Digest]bool{},
		layerLinks: map[digest.Digest][]string{},
	}
	if err := g.scan(ctx, false); err != nil {
		return GCResult{}, err
	}
	if err := g.scan(ctx, true); err != nil {
		return GCResult{}, err
	}
	if opts.DeleteUntagged {
		if err := g.sweepManifests(ctx); err != nil {
			return g.res, err
		}
	}
	if err := g.sweepBlobs(ctx); err != nil {
		return g.res, err
	}
	log.Info("storage: garbage collection done", "dry_run", opts.DryRun,
		"manifests_deleted", g.res.ManifestsDeleted, "blobs_deleted", g.res.BlobsDeleted,
		"bytes_freed", g.res.BytesFreed, "duration", time.Since(start))
	return g.res, nil
}

type collector struct {
	s             *Store
	opts          GCOptions
	log           *slog.Logger
	start, cutoff time.Time
	repos         map[string]*repoMarks
	marked        map[digest.Digest]bool     // blobs (manifests included) to keep
	layerLinks    map[digest.Digest][]string // _layers/<alg>/<hex> dirs per blob
	res           GCResult
}

// repoMarks is what marking learnt about one repository.
type repoMarks struct {
	name      string
	revisions map[digest.Digest]time.Time // revision link mtime
	kept      map[digest.Digest]bool
}

// scan walks every repository, recording its layer links (first pass) and
// marking its manifests. The second pass (again=true) treats revisions not
// seen in the first as roots: they were pushed while we were marking.
func (g *collector) scan(ctx context.Context, again bool) error {
	visited := false
	err := g.s.d.Walk(ctx, reposRoot, func(fi FileInfo) error {
		visited = true
		if !fi.IsDir {
			return nil
		}
		base := path.Base(fi.Path)
		if !strings.HasPrefix(base, "_") {
			return nil
		}
		repo := strings.TrimPrefix(path.Dir(fi.Path), reposRoot+"/")
		if !reference.ValidRepository(repo) {
			return ErrSkipDir
		}
		switch {
		case base == "_layers" && !again:
			if err := g.collectLayerLinks(ctx, repo); err != nil {
				return err
			}
		case base == "_manifests":
			if err := g.markRepo(ctx, repo, again); err != nil {
				return err
			}
		}
		return ErrSkipDir
	})
	if errors.Is(err, ErrPathNotFound) && !visited {
		return nil // no repository yet
	}
	// Anything else, "not found" included, means marking did not see
	// every repository, and sweeping would delete what it missed.
	if err != nil {
		return fmt.Errorf("gc: mark: %w", err)
	}
	return nil
}

func (g *collector) collectLayerLinks(ctx context.Context, repo string) error {
	err := g.s.walkLinks(ctx, layersPath(repo), 2, func(link string) error {
		dir := path.Dir(link)
		d, err := reference.ParseDigest(path.Base(path.Dir(dir)) + ":" + path.Base(dir))
		if err == nil {
			g.layerLinks[d] = append(g.layerLinks[d], dir)
		}
		return nil
	})
	return ignoreNotFound(err)
}

func (g *collector) markRepo(ctx context.Context, repo string, again bool) error {
	rm := g.repos[repo]
	if rm == nil {
		rm = &repoMarks{name: repo, revisions: map[digest.Digest]time.Time{}, kept: map[digest.Digest]bool{}}
		g.repos[repo] = rm
	}
	var roots []digest.Digest
	err := g.s.walkLinks(ctx, revisionsPath(repo), 2, func(link string) error {
		d, ok, err := g.s.readLinkIfPresent(ctx, link)
		if err != nil || !ok {
			return err
		}
		fi, err := g.s.d.Stat(ctx, link)
		if errors.Is(err, ErrPathNotFound) {
			return nil // deleted by a client since it was read
		}
		if err != nil {
			return err
		}
		_, seen := rm.revisions[d]
		rm.revisions[d] = fi.ModTime
		if !g.opts.DeleteUntagged || fi.ModTime.After(g.cutoff) || (again && !seen) {
			roots = append(roots, d)
		}
		return nil
	})
	if ignoreNotFound(err) != nil {
		return err
	}
	tagged, err := g.tagged(ctx, repo)
	if err != nil {
		return err
	}
	for d := range tagged {
		roots = append(roots, d)
	}
	for _, d := range roots {
		if err := g.keep(ctx, rm, d); err != nil {
			return err
		}
	}
	return nil
}

// tagged returns the digests repo's tags currently point at. A tag that
// cannot be read is an error, never "untagged".
func (g *collector) tagged(ctx context.Context, repo string) (map[digest.Digest]bool, error) {
	out := map[digest.Digest]bool{}
	err := g.s.walkTagLinks(ctx, tagsPath(repo), func(link string) error {
		d, ok, err := g.s.readLinkIfPresent(ctx, link)
		if ok {
			out[d] = true
		}
		return err
	})
	return out, ignoreNotFound(err)
}

// keep marks manifest d of rm, its blobs, its children and its referrers.
// A stored manifest that cannot be parsed stops the collection: guessing
// would delete the layers of whatever it is.
func (g *collector) keep(ctx context.Context, rm *repoMarks, d digest.Digest) error {
	stack := []digest.Digest{d}
	for len(stack) > 0 {
		d := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if rm.kept[d] || checkDigest(d) != nil {
			continue
		}
		if _, ok, err := g.s.readLinkIfPresent(ctx, revisionLinkPath(rm.name, d)); err != nil {
			return err
		} else if !ok {
			continue // a child or referrer that is not (or no longer) here
		}
		rm.kept[d] = true
		g.marked[d] = true
		body, err := g.s.d.GetContent(ctx, blobDataPath(d))
		if errors.Is(err, ErrPathNotFound) {
			g.log.Warn("storage: gc: manifest without content", "repo", rm.name, "digest", d)
			continue
		}
		if err != nil {
			return err
		}
		refs, err := manifest.References(body)
		if err != nil {
			return fmt.Errorf("gc: manifest %s@%s: %w", rm.name, d, err)
		}
		for _, b := range refs.Blobs {
			g.marked[b] = true
		}
		stack = append(stack, refs.Children...)
		err = g.s.walkLinks(ctx, referrersOfPath(rm.name, d), 2, func(link string) error {
			r, ok, err := g.s.readLinkIfPresent(ctx, link)
			if ok {
				stack = append(stack, r)
			}
			return err
		})
		if ignoreNotFound(err) != nil {
			return err
		}
	}
	return nil
}

// sweepManifests removes untagged manifests that marking did not keep,
// checking again, under the manifest's lock, that each is still old and
// untagged: a push in between refreshes the revision link.
func (g *collector) sweepManifests(ctx context.Context) error {
	for _, repo := range sortedKeys(g.repos) {
		rm := g.repos[repo]
		var doomed []digest.Digest
		for d := range rm.revisions {
			if !rm.kept[d] {
				doomed = append(doomed, d)
			}
		}
		if len(doomed) == 0 {
			continue
		}
		sort.Slice(doomed, func(i, j int) bool { return doomed[i] < doomed[j] })
		for _, d := range doomed {
			removed, err := g.sweepManifest(ctx, rm, d)
			if err != nil {
				return err
			}
			if !removed {
				if err := g.keep(ctx, rm, d); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (g *collector) sweepManifest(ctx context.Context, rm *repoMarks, d digest.Digest) (bool, error) {
	unlock := g.s.blobLocks.lock(d.String())
	defer unlock()
	fi, err := g.s.d.Stat(ctx, revisionLinkPath(rm.name, d))
	if errors.Is(err, ErrPathNotFound) {
		return true, nil // deleted by a client meanwhile
	}
	if err != nil {
		return false, err
	}
	if fi.ModTime.After(g.cutoff) {
		return false, nil
	}
	tagged, err := g.tagged(ctx, rm.name)
	if err != nil || tagged[d] {
		return false, err
	}
	g.record(fmt.Sprintf("manifest %s@%s", rm.name, d), "storage: gc: removing untagged manifest", "repo", rm.name, "digest", d)
	g.res.ManifestsDeleted++
	if g.opts.DryRun {
		return true, nil
	}
	return true, g.s.removeManifest(ctx, rm.name, d)
}

func (g *collector) record(item, msg string, args ...any) {
	g.res.Deleted = append(g.res.Deleted, item)
	g.log.Info(msg, append(args, "dry_run", g.opts.DryRun)...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
