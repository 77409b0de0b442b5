package storage

import (
	"context"
	"io"
	"os"
	"path/filepath"
)

// Writer opens p for writing, appending or truncating.
func (d *FilesystemDriver) Writer(_ context.Context, p string, appendMode bool) (FileWriter, error) {
	fp, err := d.full(p)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(fp), 0o755); err != nil {
		return nil, wrap(p, err)
	}
	flags := os.O_WRONLY | os.O_CREATE
	if !appendMode {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(fp, flags, 0o644)
	if err != nil {
		return nil, wrap(p, err)
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		f.Close()
		return nil, wrap(p, err)
	}
	return &fileWriter{f: f, size: size, opened: size}, nil
}

type fileWriter struct {
	f      *os.File
	size   int64
	opened int64 // size when opened, what Discard goes back to
	closed bool
}

func (w *fileWriter) Write(b []byte) (int, error) {
	if w.closed {
		return 0, os.ErrClosed
	}
	n, err := w.f.Write(b)
	w.size += int64(n)
	return n, err
}

func (w *fileWriter) Size() int64 { return w.size }

func (w *fileWriter) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	return w.f.Close()
}

func (w *fileWriter) Commit(context.Context) error {
	if w.closed {
		return os.ErrClosed
	}
	if err := w.f.Sync(); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// Discard truncates the file to its size when opened, durably: a crash
// must not bring back bytes a failed request left.
func (w *fileWriter) Discard(context.Context) error {
	if w.closed {
		return os.ErrClosed
	}
	defer w.Close()
	if err := w.f.Truncate(w.opened); err != nil {
		return err
	}
	w.size = w.opened
	return w.f.Sync()
}

func (w *fileWriter) Cancel(context.Context) error {
	w.Close()
	return os.Remove(w.f.Name())
}
