package regproxy

import (
	"context"
	"errors"

	"github.com/wharf-registry/wharf/pkg/storage"
)

// How cached content leaves the cache: a tag that no pull has confirmed
// upstream for a whole TTL (its current link's mtime, see
// storage.Store.TagTime) is deleted by Expire, which the registry runs
// before each scheduled garbage collection. The manifests it pointed at are
// then untagged, and garbage collection with deleteuntagged removes them
// (after its grace period) and the blobs nothing else references. A tag
// that keeps being pulled is confirmed once per TTL and stays. Manifests
// pulled only by digest are untagged from the start: the same collection
// removes them once they are older than the grace period, and the next pull
// fetches them again. A TTL of 0 expires nothing.

// Expire deletes the cached tags of proxied repositories older than their
// upstream's TTL and returns how many it deleted. It stops at the first
// storage error: a listing it cannot read is not a listing it may act on.
func (p *Proxy) Expire(ctx context.Context) (int, error) {
	if p == nil {
		return 0, nil
	}
	deleted := 0
	last := ""
	for {
		repos, more, err := p.store.Catalog(ctx, last, 1000)
		if err != nil {
			return deleted, err
		}
		for _, repo := range repos {
			n, err := p.expireRepo(ctx, repo)
			deleted += n
			if err != nil {
				return deleted, err
			}
		}
		if !more || len(repos) == 0 {
			return deleted, nil
		}
		last = repos[len(repos)-1]
	}
}

func (p *Proxy) expireRepo(ctx context.Context, repo string) (int, error) {
	u := p.upstreamOf(repo)
	if u == nil || u.ttl == 0 {
		return 0, nil
	}
	tags, _, err := p.store.Tags(ctx, repo, "", -1)
	if errors.Is(err, storage.ErrNameUnknown) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	deleted := 0
	for _, tag := range tags {
		d, at, err := p.store.TagTime(ctx, repo, tag)
		if errors.Is(err, storage.ErrManifestUnknown) {
			continue // deleted meanwhile
		}
		if err != nil {
			return deleted, err
		}
		if p.now().Sub(at) < u.ttl {
			continue
		}
		if err := p.store.DeleteTag(ctx, repo, tag); err != nil && !errors.Is(err, storage.ErrManifestUnknown) {
			return deleted, err
		}
		deleted++
		p.logger.InfoContext(ctx, "proxy: cached tag expired", "upstream", u.base, "repo", repo, "tag", tag, "digest", d, "cached_at", at)
	}
	return deleted, nil
}
