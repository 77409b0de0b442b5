package s3

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/wharf-registry/wharf/pkg/storage"
)

// Writer opens p for writing. With append it continues the file as the
// bucket has it, whichever process wrote it last (see head.go); otherwise
// the file is emptied now.
//
// Memory: one chunk fills while up to partsInFlight earlier ones upload as
// parts, within the driver's budget (see parts.go). Commit and Close both persist what was written (the
// next head, or the whole file while it is under a chunk), so an upload
// resumes from there; the upload is assembled into one object only when the
// file is read or moved. Persisting fails with storage.ErrRangeInvalid (and
// ErrConcurrentWrite) if another writer changed the file since it was
// opened.
func (d *Driver) Writer(ctx context.Context, p string, appendMode bool) (storage.FileWriter, error) {
	key, err := d.key(p)
	if err != nil {
		return nil, err
	}
	// A client that disconnects mid-chunk cancels ctx; what it sent is
	// still persisted, so that it can resume.
	wctx := context.WithoutCancel(ctx)
	w := &writer{d: d, ctx: wctx, p: p, key: key, chunk: d.cfg.ChunkSize, q: newPartQueue(d, wctx, key)}
	if !appendMode {
		st, err := d.readState(wctx, p, key, 0)
		if err != nil {
			return nil, err
		}
		if st.head != nil {
			if err := d.abort(wctx, key, st.head.uploadID); err != nil {
				return nil, wrap(p, err)
			}
		}
		out, err := d.c.PutObject(wctx, d.putInput(key, nil))
		if err != nil {
			return nil, wrap(p, err)
		}
		w.guard = aws.ToString(out.ETag)
		return w, nil
	}
	st, err := d.readState(wctx, p, key, d.cfg.ChunkSize)
	if err != nil {
		return nil, err
	}
	w.guard, w.size, w.opened = st.etag, st.size, st.size
	switch {
	case !st.exists:
	case st.head != nil:
		w.uploadID, w.q.uploadID = st.head.uploadID, st.head.uploadID
		w.q.parts, w.q.size = st.head.parts, st.head.partsSize
		w.buf = st.head.tail
	case st.data != nil:
		w.buf = st.data
	default:
		// Too big to rewrite through us: the first part upload copies it
		// into a new multipart upload, server-side.
		w.copyFrom = st.size
	}
	if n := int64(len(w.buf)); n > w.chunk {
		w.chunk = n // a tail left by a process with a larger chunk size
	}
	if w.buf != nil {
		w.buf = append(make([]byte, 0, w.chunk), w.buf...)
	}
	return w, nil
}

type writer struct {
	d      *Driver
	ctx    context.Context
	p, key string
	chunk  int64

	guard     string // ETag the file had when opened; "" when absent
	uploadID  string
	ownUpload bool  // created by this writer: abort it if persisting fails
	checked   bool  // the file was still as opened when we first uploaded a part
	copyFrom  int64 // size of a plain file to copy into the first parts
	q         *partQueue

	buf    []byte // bytes not yet in a part
	size   int64
	opened int64 // size when opened, what Discard goes back to
	dirty  bool
	closed bool
	err    error // sticky: a part upload failed
}

var errClosed = errors.New("storage: writer is closed")

func (w *writer) Write(b []byte) (int, error) {
	if w.closed {
		return 0, errClosed
	}
	if w.err != nil {
		return 0, w.err
	}
	n := 0
	for len(b) > 0 {
		if int64(len(w.buf)) >= w.chunk {
			if err := w.flush(); err != nil {
				return n, err
			}
		}
		if w.buf == nil {
			w.buf = make([]byte, 0, w.chunk)
		}
		k := min(int(w.chunk)-len(w.buf), len(b))
		w.buf = append(w.buf, b[:k]...)
		b = b[k:]
		n += k
		w.size += int64(k)
		w.dirty = true
	}
	return n, nil
}

func (w *writer) Size() int64 { return w.size }

// flush starts uploading the full buffer as the next part and gives Write
// an empty one.
func (w *writer) flush() error {
	if err := w.startUpload(); err != nil {
		return w.fail(err)
	}
	if !w.ownUpload && !w.checked {
		// Parts of an upload we continue may be overwritten by ours: make
		// sure no other writer has committed since we opened, or we would
		// destroy its part instead of just losing the race.
		out, err := w.d.c.HeadObject(w.ctx, &s3sdk.HeadObjectInput{Bucket: &w.d.bucket, Key: &w.key})
		if err != nil {
			return w.fail(wrap(w.p, err))
		}
		if aws.ToString(out.ETag) != w.guard {
			return w.fail(fmt.Errorf("storage %s: %w: %w", w.p, storage.ErrRangeInvalid, ErrConcurrentWrite))
		}
		w.checked = true
	}
	num := w.q.next()
	if num >= maxParts {
		return w.fail(fmt.Errorf("storage %s: more than %d parts: raise chunksize", w.p, maxParts-1))
	}
	buf, err := w.q.send(num, w.buf, w.chunk)
	if err != nil {
		return w.fail(wrap(w.p, err))
	}
	w.buf = buf
	return nil
}

// wait collects the parts in flight.
func (w *writer) wait() error {
	if err := w.q.wait(); err != nil {
		return w.fail(wrap(w.p, err))
	}
	return w.err
}

func (w *writer) fail(err error) error {
	if w.err == nil {
		w.err = err
	}
	return w.err
}

// startUpload creates the multipart upload on the first part, copying a
// large plain file into it first.
func (w *writer) startUpload() error {
	if w.uploadID != "" {
		return nil
	}
	id, err := w.d.createUpload(w.ctx, w.key, nil)
	if err != nil {
		return wrap(w.p, err)
	}
	w.uploadID, w.q.uploadID, w.ownUpload = id, id, true
	if w.copyFrom > 0 {
		parts, err := w.d.copyParts(w.ctx, w.key, w.guard, w.key, id, w.copyFrom)
		if err != nil {
			return wrap(w.p, err)
		}
		w.q.parts, w.q.size, w.copyFrom = parts, w.copyFrom, 0
	}
	return nil
}

// persist writes the file's new state: the whole file while it has no
// multipart upload, else the next head. It is conditional on the state the
// writer started from.
func (w *writer) persist(ctx context.Context) error {
	defer w.q.release()
	if err := w.wait(); err != nil {
		w.cleanup(ctx)
		return err
	}
	if !w.dirty && w.guard != "" {
		return nil
	}
	if w.copyFrom > 0 {
		if err := w.startUpload(); err != nil {
			w.cleanup(ctx)
			return err
		}
	}
	if w.uploadID != "" && len(w.q.parts) == 0 {
		// Created for a part that never made it: the file is still
		// small enough to write whole.
		w.cleanup(ctx)
		w.uploadID = ""
	}
	var in *s3sdk.PutObjectInput
	if w.uploadID == "" {
		in = w.d.putInput(w.key, w.buf)
	} else {
		list, err := encodeParts(w.q.parts)
		if err != nil {
			w.cleanup(ctx)
			return fmt.Errorf("storage %s: %w", w.p, err)
		}
		h := head{uploadID: w.uploadID, partsSize: w.q.size, listLen: int64(len(list))}
		in = w.d.putInput(w.key, append(list, w.buf...))
		in.Metadata = h.metadata()
	}
	if w.guard == "" {
		in.IfNoneMatch = aws.String("*")
	} else {
		in.IfMatch = aws.String(w.guard)
	}
	out, err := w.d.c.PutObject(ctx, in)
	if err != nil {
		w.cleanup(ctx)
		if isPreconditionFailed(err) {
			return fmt.Errorf("storage %s: %w: %w", w.p, storage.ErrRangeInvalid, ErrConcurrentWrite)
		}
		return wrap(w.p, err)
	}
	w.guard, w.dirty, w.ownUpload = aws.ToString(out.ETag), false, false
	return nil
}

// cleanup aborts an upload this writer created and never recorded.
func (w *writer) cleanup(ctx context.Context) {
	if w.ownUpload {
		w.d.abort(context.WithoutCancel(ctx), w.key, w.uploadID)
		w.ownUpload = false
	}
}

// Close persists what was written; the file may be appended to later.
func (w *writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	return w.persist(w.ctx)
}

// Commit persists what was written and closes the writer. Parts already
// live in S3, so this is as durable as S3 is.
func (w *writer) Commit(ctx context.Context) error {
	if w.closed {
		return errClosed
	}
	w.closed = true
	return w.persist(context.WithoutCancel(ctx))
}

// Discard closes the writer without persisting: the file keeps the state
// it had when opened. A part already uploaded into an upload we continue is
// not listed in the head, so it is overwritten by the next writer's part of
// the same number or dropped when the upload completes; an upload this
// writer created is aborted.
func (w *writer) Discard(ctx context.Context) error {
	if w.closed {
		return errClosed
	}
	w.closed = true
	w.q.release()
	w.cleanup(context.WithoutCancel(ctx))
	w.size, w.buf = w.opened, nil
	return nil
}

// Cancel drops the upload and removes the file.
func (w *writer) Cancel(ctx context.Context) error {
	w.closed = true
	ctx = context.WithoutCancel(ctx)
	w.q.release()
	if w.uploadID != "" {
		if err := w.d.abort(ctx, w.key, w.uploadID); err != nil {
			return wrap(w.p, err)
		}
	}
	_, err := w.d.c.DeleteObject(ctx, &s3sdk.DeleteObjectInput{Bucket: &w.d.bucket, Key: &w.key})
	return wrap(w.p, err)
}

// createUpload starts a multipart upload with our object settings.
func (d *Driver) createUpload(ctx context.Context, key string, meta map[string]string) (string, error) {
	in := &s3sdk.CreateMultipartUploadInput{
		Bucket: &d.bucket, Key: &key, Metadata: meta,
		ContentType: aws.String("application/octet-stream"),
	}
	in.ServerSideEncryption, in.SSEKMSKeyId, in.StorageClass = d.objOpts.sse, d.objOpts.kmsKeyID, d.objOpts.storageClass
	out, err := d.c.CreateMultipartUpload(ctx, in)
	if err != nil {
		return "", err
	}
	return aws.ToString(out.UploadId), nil
}
