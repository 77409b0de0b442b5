package s3

import (
	"context"
	"fmt"

	"github.com/wharf-registry/wharf/pkg/storage"
)

// StagedWriter opens a writer whose bytes become p only when it commits:
// a multipart upload straight to p's key (one PutObject when it stays under
// a chunk), completed by Commit and aborted by Discard, Cancel, Close and
// any failed part. S3 shows no object for an upload until it completes, so
// until Commit p is what it was, and a commit replaces it in one step. The
// Store writes a blob whose digest is known before the upload this way and
// commits only once the digest is verified, so no server-side copy into
// place follows (storage.StagedWriter). Parts upload as Writer's do
// (parts.go); unlike Writer's, nothing is persisted for another process to
// resume.
func (d *Driver) StagedWriter(ctx context.Context, p string) (storage.FileWriter, error) {
	key, err := d.key(p)
	if err != nil {
		return nil, err
	}
	wctx := context.WithoutCancel(ctx)
	return &stagedWriter{d: d, ctx: wctx, p: p, key: key, q: newPartQueue(d, wctx, key)}, nil
}

var _ storage.StagedWriter = (*Driver)(nil)

type stagedWriter struct {
	d      *Driver
	ctx    context.Context
	p, key string
	q      *partQueue
	buf    []byte
	size   int64
	closed bool
	err    error // sticky
}

func (w *stagedWriter) Write(b []byte) (int, error) {
	if w.closed {
		return 0, errClosed
	}
	if w.err != nil {
		return 0, w.err
	}
	chunk := w.d.cfg.ChunkSize
	n := 0
	for len(b) > 0 {
		if int64(len(w.buf)) >= chunk {
			if err := w.flush(); err != nil {
				return n, err
			}
		}
		if w.buf == nil {
			w.buf = make([]byte, 0, chunk)
		}
		k := min(int(chunk)-len(w.buf), len(b))
		w.buf = append(w.buf, b[:k]...)
		b, n, w.size = b[k:], n+k, w.size+int64(k)
	}
	return n, nil
}

func (w *stagedWriter) Size() int64 { return w.size }

// flush sends the buffer as the next part, creating the upload first.
func (w *stagedWriter) flush() error {
	if w.q.uploadID == "" {
		id, err := w.d.createUpload(w.ctx, w.key, nil)
		if err != nil {
			return w.fail(err)
		}
		w.q.uploadID = id
	}
	num := w.q.next()
	if num >= maxParts {
		return w.fail(fmt.Errorf("more than %d parts: raise chunksize", maxParts-1))
	}
	buf, err := w.q.send(num, w.buf, w.d.cfg.ChunkSize)
	if err != nil {
		return w.fail(err)
	}
	w.buf = buf
	return nil
}

func (w *stagedWriter) fail(err error) error {
	if w.err == nil {
		w.err = wrap(w.p, err)
	}
	return w.err
}

// Commit makes the bytes written p's content: the last part and the
// completion of the upload, or one PutObject for a file under a chunk. On
// any error the upload is aborted and p stays as it was.
func (w *stagedWriter) Commit(ctx context.Context) error {
	if w.closed {
		return errClosed
	}
	w.closed = true
	defer w.q.release()
	if w.err == nil && w.q.uploadID == "" {
		_, err := w.d.c.PutObject(w.ctx, w.d.putInput(w.key, w.buf))
		return wrap(w.p, err)
	}
	if w.err == nil && len(w.buf) > 0 {
		w.flush() // the last part may be under S3's minimum
	}
	if err := w.q.wait(); err != nil {
		w.fail(err)
	}
	if w.err == nil {
		if err := w.d.complete(w.ctx, w.key, w.q.uploadID, w.q.parts, nil); err != nil {
			w.fail(err)
		}
	}
	if w.err != nil {
		w.abort()
	}
	return w.err
}

// abort drops the upload. Should S3 fail that too, the parts stay
// invisible until the bucket's lifecycle rule for incomplete uploads
// removes them; p is unaffected either way.
func (w *stagedWriter) abort() {
	if w.q.uploadID != "" {
		w.q.wait()
		w.d.abort(w.ctx, w.key, w.q.uploadID)
	}
}

// Discard drops everything written; p stays as it was.
func (w *stagedWriter) Discard(ctx context.Context) error {
	if w.closed {
		return errClosed
	}
	w.closed = true
	w.abort()
	w.q.release()
	return nil
}

// Cancel is Discard: p was never written, so there is nothing to remove.
func (w *stagedWriter) Cancel(ctx context.Context) error { return w.Discard(ctx) }

// Close without Commit discards, since a staged file is all or nothing.
func (w *stagedWriter) Close() error {
	if w.closed {
		return nil
	}
	return w.Discard(w.ctx)
}
