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
)

// errBroken marks a fetch that failed after the response had started.
var errBroken = errors.New("blob fetch failed after the response started")

// fetchBlob streams blob d from the upstream to the client and, through a
// writer of its own (storer), into the store. The client's stream is
// bounded by the upstream, not by our disk: the store's writer hashes the
// very buffers the client was sent, and the client's last byte goes out
// as soon as that digest matches, before the stored copy is fsynced and
// committed. The commit then finishes in the background and calls land;
// it fails closed on its own (Commit checks the session's saved hash
// state against d, as for any upload), and a failure only means no cache
// entry, logged and counted.
//
// The fetch runs on when the client goes away, since followers are
// waiting for it; only the client's copy stops.
func (p *Proxy) fetchBlob(w http.ResponseWriter, r *http.Request, u *upstream, name string, d digest.Digest, land func(error)) error {
	// Detached from the client, but an upstream that stops sending for
	// u.idle ends the fetch: a stalled body must not hold the followers
	// (and an upload session) for ever.
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	idle := time.AfterFunc(u.idle, cancel)
	fail := func(err error) error {
		idle.Stop()
		cancel()
		land(err)
		return err
	}
	if !d.Algorithm().Available() {
		return fail(fmt.Errorf("digest algorithm %s is not available", d.Algorithm()))
	}
	resp, err := u.do(ctx, http.MethodGet, u.remoteName(name), "/blobs/"+d.String(), nil)
	if err != nil {
		p.metrics.upstreamError(u, err)
		return fail(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e := u.statusError(resp, CodeBlobUnknown)
		p.metrics.upstreamError(u, e)
		return fail(e)
	}
	up, err := p.store.NewUpload(ctx, name)
	if err != nil {
		return fail(err)
	}
	st, err := startStorer(ctx, up, d.Algorithm())
	if err != nil {
		_ = up.Cancel(context.WithoutCancel(ctx))
		return fail(err)
	}
	setBlobHeaders(w, d)
	if resp.ContentLength >= 0 {
		w.Header().Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	w.WriteHeader(http.StatusOK)
	client := &bestEffort{w: w, left: resp.ContentLength}
	n, err := p.relay(u, resp.Body, client, st, func() { idle.Reset(u.idle) })
	if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
		err = fmt.Errorf("upstream sent %d bytes of %d", n, resp.ContentLength)
	}
	idle.Stop()
	var got digest.Digest
	if err == nil {
		got, err = st.digest()
		if err != nil {
			err = fmt.Errorf("storing it: %w", err)
		} else if got != d {
			err = fmt.Errorf("upstream sent content with digest %s", got)
		}
	}
	if err != nil {
		err = st.abort(err)
		e := u.unavailable(fmt.Errorf("fetching blob %s of %s: %w", d, name, err))
		p.metrics.upstreamError(u, e)
		p.logger.ErrorContext(ctx, "proxy: blob not cached", "upstream", u.base, "repo", name, "digest", d, "err", err)
		return fail(fmt.Errorf("%w: %w", errBroken, e))
	}
	// The client's bytes are verified: its response may end now, while
	// the stored copy is made durable and committed.
	client.finish()
	go func() {
		defer cancel()
		err := st.commit(d)
		if err != nil {
			p.metrics.storeErrors.WithLabelValues(u.label).Inc()
			p.logger.ErrorContext(ctx, "proxy: blob served but not cached: committing it failed",
				"upstream", u.base, "repo", name, "digest", d, "err", err)
			err = &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable,
				Message: fmt.Sprintf("blob %s could not be stored in the cache", d), Err: err}
		}
		land(err)
	}()
	return nil
}

// relayBufSize is the size of the buffers a blob is relayed in. Bigger
// buffers make fewer syscalls and fewer disk requests: the cache's CPU per
// MiB of a cold pull (make bench, row 13) was 2.1-2.6 ms with 256 KiB,
// 1.8-1.9 ms with 1 MiB, 1.45-1.5 ms with 2 MiB and 4 MiB buffers.
const relayBufSize = 2 << 20

// relay copies body to the client and the storer, one buffer at a time:
// each buffer is read once, written to the client and handed to the
// storer as it is (no copy), and the next read goes into another buffer.
func (p *Proxy) relay(u *upstream, body io.Reader, client *bestEffort, st *storer, progress func()) (int64, error) {
	bytes := p.metrics.bytes.WithLabelValues(u.label)
	var total int64
	for {
		buf := getRelayBuf()
		n, err := readFull(body, buf, progress)
		if n > 0 {
			total += int64(n)
			bytes.Add(float64(n))
			client.Write(buf[:n])
			st.put(buf[:n])
		} else {
			putRelayBuf(buf)
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// readFull fills buf from r, calling progress after every read that
// brought bytes; the end of r is io.EOF whether or not buf was partly
// filled (io.ReadFull's io.ErrUnexpectedEOF would hide a short body).
func readFull(r io.Reader, buf []byte, progress func()) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		if m > 0 {
			n += m
			progress()
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// bestEffort writes to the client until the first failure, then drops
// everything: the upstream copy into the store must not stop because the
// client went away. It holds back the last byte it was given until finish:
// a client must not receive a complete body before its digest is verified.
// With the length known, only the write that reaches it holds back a byte
// (one write per buffer); else every write does.
type bestEffort struct {
	w      io.Writer
	left   int64 // bytes to come, -1 if unknown
	failed bool
	held   [1]byte
	isHeld bool
}

func (b *bestEffort) Write(p []byte) {
	if len(p) == 0 {
		return
	}
	if b.left >= 0 && int64(len(p)) < b.left {
		b.left -= int64(len(p))
		b.send(p)
		return
	}
	b.left = -1
	if b.isHeld {
		b.send(b.held[:])
	}
	b.send(p[:len(p)-1])
	b.held[0], b.isHeld = p[len(p)-1], true
}

// finish sends the held-back byte, once the blob is verified.
func (b *bestEffort) finish() {
	if b.isHeld {
		b.send(b.held[:])
		b.isHeld = false
	}
	if f, ok := b.w.(http.Flusher); ok && !b.failed {
		f.Flush()
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
