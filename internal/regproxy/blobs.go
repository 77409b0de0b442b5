package regproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/pkg/storage"
)

// A blob not yet cached is fetched once, whatever the number of clients
// asking: the first client (the leader) gets the bytes as they arrive from
// the upstream while they are written into an upload session, which is
// committed only when the digest matches. The others (followers) wait for
// that commit and are then served from the cache like any later client.
// Waiting is the simplest correct choice: a follower never reads bytes that
// have not been verified, and the cache stays the one place blobs are
// served from.

// flight is one upstream fetch of a blob in progress.
type flight struct {
	done chan struct{}
	err  error // set before done is closed
}

// ServeBlob answers a GET or HEAD of blob d in the proxied repository name
// when it is not cached yet. It returns false, nil when the blob is in the
// cache (already, or after waiting for another client's fetch), for the
// caller to serve it from storage as any blob.
func (p *Proxy) ServeBlob(w http.ResponseWriter, r *http.Request, name string, d digest.Digest) (bool, error) {
	u := p.upstreamOf(name)
	if u == nil {
		return false, nil
	}
	_, err := p.store.StatBlob(r.Context(), name, d)
	if err == nil {
		p.metrics.count(u, "blob", true)
		return false, nil
	}
	if !errors.Is(err, storage.ErrBlobUnknown) {
		return false, err
	}
	p.metrics.count(u, "blob", false)
	if r.Method == http.MethodHead {
		return true, p.headBlob(w, r, u, name, d)
	}
	key := name + "@" + d.String()
	p.mu.Lock()
	f, following := p.flights[key]
	if !following {
		f = &flight{done: make(chan struct{})}
		p.flights[key] = f
	}
	p.mu.Unlock()
	if following {
		select {
		case <-f.done:
		case <-r.Context().Done():
			return true, r.Context().Err()
		}
		return f.err != nil, f.err
	}
	served, err := p.lead(w, r, u, name, d)
	p.mu.Lock()
	delete(p.flights, key)
	p.mu.Unlock()
	f.err = err
	close(f.done)
	if errors.Is(err, errBroken) {
		// The client has had bytes that were never verified: break the
		// connection rather than let the response end as if complete.
		panic(http.ErrAbortHandler)
	}
	return served, err
}

// lead is the leader's part. The previous leader may have committed
// between our StatBlob and our taking the flight: look again before
// asking the upstream.
func (p *Proxy) lead(w http.ResponseWriter, r *http.Request, u *upstream, name string, d digest.Digest) (bool, error) {
	_, err := p.store.StatBlob(r.Context(), name, d)
	switch {
	case err == nil:
		return false, nil
	case !errors.Is(err, storage.ErrBlobUnknown):
		return false, err
	}
	return true, p.fetchBlob(w, r, u, name, d)
}

// errBroken marks a fetch that failed after the response had started.
var errBroken = errors.New("blob fetch failed after the response started")

// headBlob answers a HEAD with the upstream's size, caching nothing: the
// GET that usually follows fetches the blob.
func (p *Proxy) headBlob(w http.ResponseWriter, r *http.Request, u *upstream, name string, d digest.Digest) error {
	resp, err := u.do(r.Context(), http.MethodHead, u.remoteName(name), "/blobs/"+d.String(), nil)
	if err != nil {
		p.metrics.upstreamError(u, err)
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e := u.statusError(resp, CodeBlobUnknown)
		p.metrics.upstreamError(u, e)
		return e
	}
	setBlobHeaders(w, d)
	if resp.ContentLength >= 0 {
		w.Header().Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// fetchBlob streams blob d from the upstream to the client and into the
// store at once. The fetch runs on even when the client goes away, since
// followers are waiting for it; only the client's copy stops.
func (p *Proxy) fetchBlob(w http.ResponseWriter, r *http.Request, u *upstream, name string, d digest.Digest) error {
	// Detached from the client, but an upstream that stops sending for
	// u.idle ends the fetch: a stalled body must not hold the followers
	// (and an upload session) for ever.
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	defer cancel()
	idle := time.AfterFunc(u.idle, cancel)
	defer idle.Stop()
	resp, err := u.do(ctx, http.MethodGet, u.remoteName(name), "/blobs/"+d.String(), nil)
	if err != nil {
		p.metrics.upstreamError(u, err)
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e := u.statusError(resp, CodeBlobUnknown)
		p.metrics.upstreamError(u, e)
		return e
	}
	up, err := p.store.NewUpload(ctx, name)
	if err != nil {
		return err
	}
	setBlobHeaders(w, d)
	if resp.ContentLength >= 0 {
		w.Header().Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	w.WriteHeader(http.StatusOK)
	client := &bestEffort{w: w}
	bytes := p.metrics.bytes.WithLabelValues(u.label)
	body := &counter{r: resp.Body, add: func(n float64) { bytes.Add(n); idle.Reset(u.idle) }}
	n, err := up.Append(ctx, 0, io.TeeReader(body, client))
	if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
		err = fmt.Errorf("upstream sent %d bytes of %d", n, resp.ContentLength)
	}
	if err == nil {
		_, err = up.Commit(ctx, d)
	}
	if err == nil {
		client.finish()
		return nil
	}
	_ = up.Cancel(context.WithoutCancel(ctx)) // ctx may be the cancelled one
	e := u.unavailable(fmt.Errorf("fetching blob %s of %s: %w", d, name, err))
	p.metrics.upstreamError(u, e)
	p.logger.ErrorContext(ctx, "proxy: blob not cached", "upstream", u.base, "repo", name, "digest", d, "err", err)
	return fmt.Errorf("%w: %w", errBroken, e)
}

func setBlobHeaders(w http.ResponseWriter, d digest.Digest) {
	h := w.Header()
	h.Set("Docker-Content-Digest", d.String())
	h.Set("Etag", `"`+d.String()+`"`)
	h.Set("Content-Type", "application/octet-stream")
}

// bestEffort writes to the client until the first failure, then drops
// everything: the upstream copy into the store must not stop because the
// client went away. It holds back the last byte it was given until finish:
// a client must not receive a complete body before its digest is verified.
type bestEffort struct {
	w      io.Writer
	failed bool
	held   [1]byte
	isHeld bool
}

func (b *bestEffort) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if b.isHeld {
		b.send(b.held[:])
	}
	b.send(p[:len(p)-1])
	b.held[0], b.isHeld = p[len(p)-1], true
	return len(p), nil
}

// finish sends the held-back byte, once the blob is verified.
func (b *bestEffort) finish() {
	if b.isHeld {
		b.send(b.held[:])
		b.isHeld = false
	}
}

func (b *bestEffort) send(p []byte) {
	if b.failed || len(p) == 0 {
		return
	}
	if _, err := b.w.Write(p); err != nil {
		b.failed = true
	}
}

// counter counts the bytes read from the upstream into a metric.
type counter struct {
	r   io.Reader
	add func(float64)
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.add(float64(n))
	}
	return n, err
}
