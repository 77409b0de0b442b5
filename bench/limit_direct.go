package main

import (
	"hash"
	"io"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// directAlign is what O_DIRECT asks of buffers and lengths: a page.
const directAlign = 4096

// hashToFileDirect is the push limit around the page cache: the body
// written with O_DIRECT in 1 MiB page-aligned pieces, each piece hashed
// while the device takes it, then the file synced. On a virtual machine
// that hands freed memory back to the host, filling fresh page-cache
// pages costs more than the copy itself; this shows what the disk can do
// without them. The short last piece goes through the page cache.
func hashToFileDirect(dir string, body io.Reader) (name, dgst string, err error) {
	return storeHashing(dir, body, func(f *os.File) ([]byte, func(hash.Hash, []byte) error, error) {
		fd := uintptr(f.Fd())
		flags, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
		if err != nil {
			return nil, nil, err
		}
		if _, err := unix.FcntlInt(fd, unix.F_SETFL, flags|syscall.O_DIRECT); err != nil {
			return nil, nil, err
		}
		raw := make([]byte, 1<<20+directAlign)
		off := (directAlign - int(uintptr(unsafe.Pointer(&raw[0]))%directAlign)) % directAlign
		direct := true
		write := func(h hash.Hash, b []byte) error {
			if direct && len(b)%directAlign != 0 {
				direct = false
				if _, err := unix.FcntlInt(fd, unix.F_SETFL, flags); err != nil {
					return err
				}
			}
			hashed := make(chan struct{})
			go func() {
				h.Write(b)
				close(hashed)
			}()
			_, err := f.Write(b)
			<-hashed
			return err
		}
		return raw[off : off+1<<20], write, nil
	})
}
