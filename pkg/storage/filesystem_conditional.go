package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// The filesystem's ConditionalWriter, for state that processes sharing a
// root update without other coordination (the garbage collection lease).
// A version is the SHA-256 of the content. Creating uses a hard link of a
// complete temporary file, which fails if the file exists (O_EXCL's
// guarantee, with no moment where a reader sees a partial file); replacing
// takes an flock on the current file, so two compare-and-swaps of one file
// from different processes happen one after the other.

var _ ConditionalWriter = (*FilesystemDriver)(nil)

func contentVersion(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// GetContentVersion returns p's content and version.
func (d *FilesystemDriver) GetContentVersion(ctx context.Context, p string) ([]byte, string, error) {
	b, err := d.GetContent(ctx, p)
	if err != nil {
		return nil, "", err
	}
	return b, contentVersion(b), nil
}

// PutContentIfNoneMatch creates p with content unless it exists.
func (d *FilesystemDriver) PutContentIfNoneMatch(_ context.Context, p string, content []byte) (string, error) {
	err := d.putWith(p, content, true, func(tmp, fp string) error {
		if err := os.Link(tmp, fp); err != nil {
			return err
		}
		return os.Remove(tmp)
	})
	if errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("storage %s: %w", p, ErrPreconditionFailed)
	}
	if err != nil {
		return "", err
	}
	return contentVersion(content), nil
}

// PutContentIfMatch replaces p with content if p's version is still
// version. A missing p fails too.
func (d *FilesystemDriver) PutContentIfMatch(_ context.Context, p string, content []byte, version string) (string, error) {
	fp, err := d.full(p)
	if err != nil {
		return "", err
	}
	for {
		f, err := os.Open(fp)
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("storage %s: %w", p, ErrPreconditionFailed)
		}
		if err != nil {
			return "", wrap(p, err)
		}
		done, v, err := d.swapLocked(f, fp, p, content, version)
		f.Close() // releases the lock
		if done || err != nil {
			return v, err
		}
	}
}

// swapLocked does PutContentIfMatch's work holding an flock on f, the file
// as opened. done is false when p was replaced between the open and the
// lock: the lock is then on a file no longer at p, and the caller retries.
func (d *FilesystemDriver) swapLocked(f *os.File, fp, p string, content []byte, version string) (done bool, newVersion string, err error) {
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return false, "", wrap(p, err)
	}
	locked, err := f.Stat()
	if err != nil {
		return false, "", wrap(p, err)
	}
	current, err := os.Stat(fp)
	if errors.Is(err, fs.ErrNotExist) {
		return true, "", fmt.Errorf("storage %s: %w", p, ErrPreconditionFailed)
	}
	if err != nil {
		return false, "", wrap(p, err)
	}
	if !os.SameFile(locked, current) {
		return false, "", nil
	}
	b, err := io.ReadAll(io.LimitReader(f, maxContentSize+1))
	if err != nil {
		return false, "", wrap(p, err)
	}
	if contentVersion(b) != version {
		return true, "", fmt.Errorf("storage %s: %w", p, ErrPreconditionFailed)
	}
	if err := d.put(p, content, true); err != nil {
		return false, "", err
	}
	return true, contentVersion(content), nil
}
