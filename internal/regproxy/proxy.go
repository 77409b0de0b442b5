// Package regproxy is the registry's pull-through cache: registry:2's
// proxy mode (one upstream for the whole registry) and several upstreams,
// each served below a repository prefix beside ordinary repositories.
//
// What an upstream sends is stored in the registry's own storage, under the
// local repository name, and served from there afterwards: manifests by
// digest without asking the upstream again, manifests by tag until their
// TTL has passed and then after a HEAD upstream confirms or moves the tag,
// blobs once their digest has been verified. When the upstream is down,
// cached content is still served (a stale tag with a log line and a
// metric) and what was never cached gets a quick 503.
//
// The registry (internal/regserver) owns routing, auth and rendering; this
// package only answers "give me this manifest" and "serve this blob".
package regproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"

	"github.com/wharf-registry/wharf/internal/regconfig"
	"github.com/wharf-registry/wharf/pkg/manifest"
	"github.com/wharf-registry/wharf/pkg/reference"
	"github.com/wharf-registry/wharf/pkg/storage"
)

// acceptManifests is the Accept header sent upstream: every manifest type
// the registry can store, so that what is cached is what the upstream has,
// whatever the first client understood.
var acceptManifests = []string{
	manifest.MediaTypeOCIIndex, manifest.MediaTypeOCIManifest,
	manifest.MediaTypeDockerList, manifest.MediaTypeDockerSchema2,
}

// Proxy is the set of upstreams of one registry.
type Proxy struct {
	ups     []*upstream
	store   *storage.Store
	logger  *slog.Logger
	metrics *metrics
	now     func() time.Time

	mu      sync.Mutex
	flights map[string]*flight // blob fetches in progress (blobs.go)

	// manifestFlights are the upstream exchanges for manifests in
	// progress, by repository and reference.
	manifestFlights singleflight.Group
}

// New returns the cache for the configured upstreams over store,
// registering its metrics in reg. It returns nil when ups is empty.
func New(ups []regconfig.ProxyEntry, store *storage.Store, logger *slog.Logger, reg prometheus.Registerer) *Proxy {
	if len(ups) == 0 {
		return nil
	}
	p := &Proxy{store: store, logger: logger, metrics: newMetrics(reg), now: time.Now, flights: map[string]*flight{}}
	if p.logger == nil {
		p.logger = slog.New(slog.DiscardHandler)
	}
	for _, e := range ups {
		u := newUpstream(e, p.now)
		p.ups = append(p.ups, u)
		p.logger.Info("pull-through cache", "prefix", u.prefix, "upstream", u.base, "ttl", u.ttl, "credentials", u.username != "")
	}
	return p
}

// Proxied reports whether repository name comes from an upstream: such a
// repository takes no pushes and no deletes.
func (p *Proxy) Proxied(name string) bool { return p != nil && p.upstreamOf(name) != nil }

func (p *Proxy) upstreamOf(name string) *upstream {
	for _, u := range p.ups {
		if u.owns(name) {
			return u
		}
	}
	return nil
}

// Manifest returns manifest ref (a tag or a digest) of the proxied
// repository name, from the cache or the upstream. However many clients
// ask at once for a manifest that needs the upstream (not cached, or a tag
// past its TTL), one upstream exchange answers them all; it is detached
// from the client who started it, since the others wait for it.
func (p *Proxy) Manifest(ctx context.Context, name, ref string) (storage.Manifest, error) {
	u := p.upstreamOf(name)
	if u == nil {
		return p.store.GetManifest(ctx, name, ref)
	}
	if m, ok, err := p.cachedManifest(ctx, u, name, ref); ok || err != nil {
		return m, err
	}
	ch := p.manifestFlights.DoChan(name+"\x00"+ref, func() (any, error) {
		ctx := context.WithoutCancel(ctx)
		// A flight for ref may have ended between our look and this one.
		if m, ok, err := p.cachedManifest(ctx, u, name, ref); ok || err != nil {
			return m, err
		}
		return p.refresh(ctx, u, name, ref)
	})
	select {
	case r := <-ch:
		m, _ := r.Val.(storage.Manifest)
		return m, r.Err
	case <-ctx.Done():
		return storage.Manifest{}, ctx.Err()
	}
}

// cachedManifest returns ref from the cache when the upstream need not be
// asked: a digest that is cached, a tag within its TTL. ok is false when
// the upstream must be asked.
func (p *Proxy) cachedManifest(ctx context.Context, u *upstream, name, ref string) (m storage.Manifest, ok bool, err error) {
	if reference.IsDigest(ref) {
		// Content-addressed: what is cached is right for good.
		m, err := p.store.GetManifest(ctx, name, ref)
		if errors.Is(err, storage.ErrManifestUnknown) {
			return storage.Manifest{}, false, nil
		}
		if err == nil {
			p.metrics.count(u, "manifest", true)
		}
		return m, err == nil, err
	}
	d, at, err := p.store.TagTime(ctx, name, ref)
	switch {
	case errors.Is(err, storage.ErrManifestUnknown):
		return storage.Manifest{}, false, nil
	case err != nil:
		return storage.Manifest{}, false, err
	case u.ttl > 0 && p.now().Sub(at) < u.ttl:
		p.metrics.count(u, "manifest", true)
		m, err := p.store.GetManifest(ctx, name, d.String())
		return m, err == nil, err
	}
	return storage.Manifest{}, false, nil
}

// refresh asks the upstream for ref: a GET for what is not cached, a HEAD
// to revalidate a tag past its TTL.
func (p *Proxy) refresh(ctx context.Context, u *upstream, name, ref string) (storage.Manifest, error) {
	if reference.IsDigest(ref) {
		p.metrics.count(u, "manifest", false)
		return p.fetchManifest(ctx, u, name, ref)
	}
	d, _, err := p.store.TagTime(ctx, name, ref)
	if errors.Is(err, storage.ErrManifestUnknown) {
		p.metrics.count(u, "manifest", false)
		return p.fetchManifest(ctx, u, name, ref)
	}
	if err != nil {
		return storage.Manifest{}, err
	}
	return p.revalidate(ctx, u, name, ref, d)
}

// revalidate asks the upstream (HEAD) where tag points now, for a cached
// tag whose TTL has passed. Same digest: the tag is confirmed for another
// TTL. Another digest: the new manifest is fetched. No answer (down, slow,
// refusing): the cached manifest is served stale, logged and counted. A 404
// means the tag is gone upstream, and so it is gone here too.
func (p *Proxy) revalidate(ctx context.Context, u *upstream, name, tag string, cached digest.Digest) (storage.Manifest, error) {
	ctx, cancel := context.WithTimeout(ctx, manifestTimeout)
	defer cancel()
	resp, err := u.do(ctx, http.MethodHead, u.remoteName(name), "/manifests/"+tag, http.Header{"Accept": acceptManifests})
	if err == nil {
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusOK && resp.Header.Get("Docker-Content-Digest") == cached.String():
			if err := p.store.ConfirmTag(ctx, name, tag); err != nil {
				return storage.Manifest{}, err
			}
			p.metrics.count(u, "manifest", true)
			return p.store.GetManifest(ctx, name, cached.String())
		case resp.StatusCode == http.StatusOK:
			p.metrics.count(u, "manifest", false)
			return p.fetchManifest(ctx, u, name, tag)
		case resp.StatusCode == http.StatusNotFound:
			p.metrics.count(u, "manifest", false)
			if err := p.store.DeleteTag(ctx, name, tag); err != nil && !errors.Is(err, storage.ErrManifestUnknown) {
				return storage.Manifest{}, err
			}
			return storage.Manifest{}, u.statusError(resp, CodeManifestUnknown)
		}
		err = u.statusError(resp, CodeManifestUnknown)
	}
	p.metrics.upstreamError(u, err)
	p.metrics.stale.WithLabelValues(u.label).Inc()
	p.logger.WarnContext(ctx, "proxy: serving a cached tag past its TTL: the upstream could not confirm it",
		"upstream", u.base, "repo", name, "tag", tag, "digest", cached, "err", err)
	return p.store.GetManifest(ctx, name, cached.String())
}

// fetchManifest GETs ref from the upstream, checks its digest and caches
// it (under the tag, when ref is one).
func (p *Proxy) fetchManifest(ctx context.Context, u *upstream, name, ref string) (storage.Manifest, error) {
	ctx, cancel := context.WithTimeout(ctx, manifestTimeout)
	defer cancel()
	resp, err := u.do(ctx, http.MethodGet, u.remoteName(name), "/manifests/"+ref, http.Header{"Accept": acceptManifests})
	if err != nil {
		p.metrics.upstreamError(u, err)
		return storage.Manifest{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e := u.statusError(resp, CodeManifestUnknown)
		p.metrics.upstreamError(u, e)
		return storage.Manifest{}, e
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, manifest.MaxSize+1))
	if err != nil {
		e := u.unavailable(fmt.Errorf("reading manifest %s: %w", ref, err))
		p.metrics.upstreamError(u, e)
		return storage.Manifest{}, e
	}
	p.metrics.bytes.WithLabelValues(u.label).Add(float64(len(body)))
	if len(body) > manifest.MaxSize {
		return storage.Manifest{}, &Error{Status: http.StatusBadGateway, Code: CodeUnavailable,
			Message: fmt.Sprintf("upstream %s sent a manifest larger than %d bytes", u.base, manifest.MaxSize)}
	}
	d, err := manifestDigest(ref, resp.Header.Get("Docker-Content-Digest"), body)
	if err != nil {
		return storage.Manifest{}, &Error{Status: http.StatusBadGateway, Code: CodeUnavailable,
			Message: fmt.Sprintf("upstream %s sent a manifest that does not match its digest", u.base), Err: err}
	}
	tag := ""
	if !reference.IsDigest(ref) {
		tag = ref
	}
	contentType := resp.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(contentType); err == nil {
		contentType = mt
	}
	desc, err := p.store.CacheManifest(ctx, name, tag, contentType, d, body)
	if err != nil {
		return storage.Manifest{}, err
	}
	return storage.Manifest{Descriptor: desc, Body: body}, nil
}

// manifestDigest is the digest body must have: ref when ref is a digest,
// else the upstream's Docker-Content-Digest (checked against the body),
// else the body's sha256.
func manifestDigest(ref, header string, body []byte) (digest.Digest, error) {
	want := header
	if reference.IsDigest(ref) {
		want = ref
	}
	if want == "" {
		return digest.FromBytes(body), nil
	}
	d, err := reference.ParseDigest(want)
	if err != nil {
		return "", err
	}
	if got := d.Algorithm().FromBytes(body); got != d {
		return "", fmt.Errorf("body is %s, expected %s", got, d)
	}
	return d, nil
}
