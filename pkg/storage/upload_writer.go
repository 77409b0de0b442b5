package storage

import (
	"context"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
)

// UploadWriter appends to an upload session from the caller's buffers:
// the pull-through cache stores a blob this way while it streams the same
// buffers to a client. It hashes what it writes, so the caller can check
// the content against its digest as soon as the last buffer is written,
// before Close makes it durable; Commit then verifies it again, as for any
// upload. The session stays locked from Writer until Close or Discard.
type UploadWriter struct {
	a    *appender
	size int64
	err  error // the failed write that broke the writer
}

// uncachedWriterOpener is implemented by drivers that can write a file
// around the page cache (the filesystem driver, with O_DIRECT).
type uncachedWriterOpener interface {
	uncachedWriter(ctx context.Context, p string) (FileWriter, error)
}

// uploadOpener opens upload data files for appending, around the page
// cache where the driver can.
func (s *Store) uploadOpener() func(context.Context, string, bool) (FileWriter, error) {
	if d, ok := s.d.(uncachedWriterOpener); ok {
		return func(ctx context.Context, p string, _ bool) (FileWriter, error) { return d.uncachedWriter(ctx, p) }
	}
	return s.d.Writer
}

// Writer opens the session for appending at its end. The data bypasses
// the page cache where the driver can: the writer does not read it back
// soon, and on virtual machines that return freed memory to the host the
// page cache's pages are costly to fill (filesystem_direct_linux.go).
func (u *Upload) Writer(ctx context.Context) (*UploadWriter, error) {
	open := u.s.uploadOpener()
	size, err := u.s.uploadSize(ctx, u.repo, u.id)
	if err != nil {
		return nil, err
	}
	a, err := u.openAppend(ctx, size, open)
	if err != nil {
		return nil, err
	}
	return &UploadWriter{a: a, size: size}, nil
}

// Write appends p. It hashes p while the file takes it: a write around
// the page cache mostly waits for the device, and the hash costs as much
// again, so doing both at once nearly halves the time. A failed write
// leaves the hash ahead of the file: the writer is then broken, and only
// Discard remains.
func (w *UploadWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	hashed := make(chan struct{})
	go func() {
		w.a.h.Write(p)
		close(hashed)
	}()
	n, err := w.a.w.Write(p)
	<-hashed
	w.size += int64(n)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.err = fmt.Errorf("upload writer broken by a failed write: %w", err)
	}
	return n, err
}

// Size is the session's size with everything written so far.
func (w *UploadWriter) Size() int64 { return w.size }

// Digest is the sha256 digest of the session's data written so far
// (meaningless once a write failed).
func (w *UploadWriter) Digest() digest.Digest { return digest.NewDigest(digest.SHA256, w.a.h) }

// Close makes the data durable (fsync), saves the hash state for Commit
// and unlocks the session.
func (w *UploadWriter) Close(ctx context.Context) error {
	if w.err != nil {
		return w.a.discard(ctx, w.err)
	}
	size, err := w.a.finish(ctx)
	if err == nil && size != w.size {
		err = fmt.Errorf("upload writer: %d bytes on disk, %d written", size, w.size)
	}
	return err
}

// Discard drops everything written through w and unlocks the session.
func (w *UploadWriter) Discard(ctx context.Context) error {
	return w.a.discard(ctx, nil)
}
