package regproxy

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/pkg/storage"
)

// A blob not yet cached is fetched once, whatever the number of clients
// asking: the first client (the leader) gets the bytes as they arrive from
// the upstream, hashed on the way, while a writer stores them (fetch.go).
// The leader's last byte is sent once the digest matches, so the bytes it
// holds are verified whether or not storing them succeeds. The others
// (followers) wait until the stored copy is committed (verified again by
// the store, fsynced, linked) and are then served from the cache like any
// later client: a follower never reads bytes that have not been verified,
// and the cache stays the one place blobs are served from.

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
	// The flight ends when the blob is committed or could not be: after
	// the leader's response when the fetch succeeded, at once otherwise.
	land := func(err error) {
		p.mu.Lock()
		delete(p.flights, key)
		p.mu.Unlock()
		f.err = err
		close(f.done)
	}
	served, err := p.lead(w, r, u, name, d, land)
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
// lead calls land exactly once, when the flight is over.
func (p *Proxy) lead(w http.ResponseWriter, r *http.Request, u *upstream, name string, d digest.Digest, land func(error)) (bool, error) {
	_, err := p.store.StatBlob(r.Context(), name, d)
	switch {
	case err == nil:
		land(nil)
		return false, nil
	case !errors.Is(err, storage.ErrBlobUnknown):
		land(err)
		return false, err
	}
	return true, p.fetchBlob(w, r, u, name, d, land)
}

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

func setBlobHeaders(w http.ResponseWriter, d digest.Digest) {
	h := w.Header()
	h.Set("Docker-Content-Digest", d.String())
	h.Set("Etag", `"`+d.String()+`"`)
	h.Set("Content-Type", "application/octet-stream")
}
