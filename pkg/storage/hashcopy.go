package storage

import (
	"context"
	"hash"
	"io"
)

// copyHashing copies r into w in 1 MiB pieces and hashes exactly the bytes
// w accepted, so the hash state always matches the data on disk. Only
// io.EOF ends the copy cleanly; io.ErrUnexpectedEOF from r (net/http's
// report of a body shorter than its Content-Length) is an error.
//
// The hash runs in a goroutine of its own, one piece behind the copy: it is
// about a third of a push's CPU, and this way it overlaps with reading the
// next piece from the client and writing it to the file. Two buffers, so
// an upload holds 2 MiB at most. copyHashing returns only after the hash
// has consumed every piece, whatever the outcome.
func copyHashing(ctx context.Context, w io.Writer, h hash.Hash, r io.Reader) error {
	bufs := [2]*[]byte{getBuf(), getBuf()}
	defer putBuf(bufs[1])
	defer putBuf(bufs[0])

	pieces := make(chan []byte, len(bufs))
	hashed := make(chan struct{}, len(bufs))
	go func() {
		for b := range pieces {
			h.Write(b)
			hashed <- struct{}{}
		}
	}()
	pending := 0
	defer func() {
		close(pieces)
		for ; pending > 0; pending-- {
			<-hashed
		}
	}()

	for i := 0; ; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if pending == len(bufs) {
			<-hashed // the oldest piece, in this buffer, is hashed
			pending--
		}
		buf := *bufs[i%len(bufs)]
		n, rerr := readFull(r, buf)
		if n > 0 {
			wn, werr := w.Write(buf[:n])
			if wn > 0 {
				pieces <- buf[:wn]
				pending++
			}
			if werr != nil {
				return werr
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}
