package storage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// directAlign is the alignment O_DIRECT wants of buffers, offsets and
// lengths: a page, which covers every logical block size in use.
const directAlign = 4096

// uncachedWriter opens p for appending with O_DIRECT when the file's size
// allows it: the data goes to the disk without passing through the page
// cache. A writer that will not read the data back soon (the pull-through
// cache storing a blob while it streams it to a client) then saves the
// copy into page cache, which on virtual machines that hand freed memory
// back to the host (free page reporting) costs several times the copy
// itself: every page is faulted in anew. Filesystems without O_DIRECT
// (tmpfs) get an ordinary writer.
func (d *FilesystemDriver) uncachedWriter(ctx context.Context, p string) (FileWriter, error) {
	fp, err := d.full(p)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(fp)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, wrap(p, err)
	}
	if err == nil && fi.Size()%directAlign != 0 {
		return d.Writer(ctx, p, true)
	}
	if err := os.MkdirAll(filepath.Dir(fp), 0o755); err != nil {
		return nil, wrap(p, err)
	}
	f, err := os.OpenFile(fp, os.O_WRONLY|os.O_CREATE|syscall.O_DIRECT, 0o644)
	if errors.Is(err, syscall.EINVAL) {
		return d.Writer(ctx, p, true)
	}
	if err != nil {
		return nil, wrap(p, err)
	}
	size, err := f.Seek(0, 2)
	if err != nil {
		f.Close()
		return nil, wrap(p, err)
	}
	return &directWriter{fileWriter: fileWriter{f: f, size: size, opened: size}, direct: size%directAlign == 0}, nil
}

// directWriter writes aligned whole pages with O_DIRECT and turns O_DIRECT
// off for good at the first write that is not (the last, short chunk of
// a blob) or that the filesystem refuses: everything after that goes
// through the page cache as usual. Commit, Discard and Cancel are
// fileWriter's: fsync makes both kinds of write durable.
type directWriter struct {
	fileWriter
	direct bool
}

func (w *directWriter) Write(b []byte) (int, error) {
	if w.direct && (len(b)%directAlign != 0 || uintptr(unsafe.Pointer(unsafe.SliceData(b)))%directAlign != 0) {
		if err := w.buffered(); err != nil {
			return 0, err
		}
	}
	n, err := w.fileWriter.Write(b)
	if w.direct && n == 0 && errors.Is(err, syscall.EINVAL) {
		if err := w.buffered(); err != nil {
			return 0, err
		}
		return w.fileWriter.Write(b)
	}
	return n, err
}

// buffered turns O_DIRECT off on the open file.
func (w *directWriter) buffered() error {
	w.direct = false
	fd := int(w.f.Fd())
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err == nil {
		_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, flags&^unix.O_DIRECT)
	}
	if err != nil {
		return wrap(w.f.Name(), err)
	}
	return nil
}
