//go:build !linux

package storage

import "context"

// uncachedWriter is an ordinary appending writer where O_DIRECT is not
// available (see filesystem_direct_linux.go).
func (d *FilesystemDriver) uncachedWriter(ctx context.Context, p string) (FileWriter, error) {
	return d.Writer(ctx, p, true)
}
