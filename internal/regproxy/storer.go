package regproxy

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"sync"
	"unsafe"

	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/pkg/storage"
)

// storerQueue is how many relayed buffers may wait for the storer. The
// queue absorbs the disk's and the hash's hiccups without holding the
// client back; when it is full the relay waits (the client is then
// bounded by storing), so memory stays bounded: a fetch holds at most
// storerQueue+2 buffers (8 MiB), never a whole blob.
const storerQueue = 2

// relayBufs holds the relay's buffers between fetches. They start on a
// page boundary: the store writes them around the page cache (O_DIRECT),
// which needs aligned memory.
var relayBufs = sync.Pool{New: func() any {
	b := make([]byte, relayBufSize+pageSize)
	off := (pageSize - int(uintptr(unsafe.Pointer(unsafe.SliceData(b)))%pageSize)) % pageSize
	b = b[off : off+relayBufSize : off+relayBufSize]
	return &b
}}

const pageSize = 4096

func getRelayBuf() []byte { return *relayBufs.Get().(*[]byte) }

func putRelayBuf(b []byte) {
	b = b[:cap(b)]
	relayBufs.Put(&b)
}

// storer writes a fetched blob into an upload session on its own
// goroutine, fed the relay's buffers through a bounded queue, so that the
// client's stream does not wait for the disk. The session's writer hashes
// what it writes: those are the very buffers the client was sent, so its
// digest is that of the client's bytes, computed once, off the client's
// path.
type storer struct {
	ctx   context.Context
	up    *storage.Upload
	w     *storage.UploadWriter
	alg   digest.Algorithm
	other hash.Hash // the digest's hash when it is not sha256 (the writer's)
	queue chan []byte

	written chan struct{} // closed when the queue is drained
	err     error         // the first write error, set before written is closed
}

func startStorer(ctx context.Context, up *storage.Upload, alg digest.Algorithm) (*storer, error) {
	w, err := up.Writer(ctx)
	if err != nil {
		return nil, err
	}
	s := &storer{ctx: ctx, up: up, w: w, alg: alg, queue: make(chan []byte, storerQueue), written: make(chan struct{})}
	if alg != digest.SHA256 {
		s.other = alg.Hash()
	}
	go s.run()
	return s, nil
}

func (s *storer) run() {
	defer close(s.written)
	for b := range s.queue {
		if s.err == nil {
			_, s.err = s.w.Write(b)
			if s.other != nil {
				s.other.Write(b)
			}
		}
		putRelayBuf(b)
	}
}

// put hands b to the writer, waiting while the queue is full; the writer
// gives it back to the pool. After a write error the writer drops what it
// is given (the fetch goes on for the client; commit reports the error).
func (s *storer) put(b []byte) { s.queue <- b }

// digest waits until everything put is written and returns its digest.
func (s *storer) digest() (digest.Digest, error) {
	close(s.queue)
	<-s.written
	if s.err != nil {
		return "", s.err
	}
	if s.other != nil {
		return digest.NewDigest(s.alg, s.other), nil
	}
	return s.w.Digest(), nil
}

// commit makes the written blob durable and commits the session as d: the
// store checks the digest of what it holds, syncs and links it. Any
// failure cancels the session, so nothing of it becomes visible.
func (s *storer) commit(d digest.Digest) error {
	err := s.w.Close(s.ctx)
	if err == nil {
		_, err = s.up.Commit(s.ctx, d)
	}
	if err != nil {
		return s.cancel(err)
	}
	return nil
}

// abort drops what was written and the session; err says why.
func (s *storer) abort(err error) error {
	select {
	case <-s.written:
	default:
		close(s.queue)
		<-s.written
	}
	if derr := s.w.Discard(s.ctx); derr != nil {
		err = errors.Join(err, fmt.Errorf("dropping the partial blob: %w", derr))
	}
	return s.cancel(err)
}

func (s *storer) cancel(err error) error {
	cerr := s.up.Cancel(context.WithoutCancel(s.ctx)) // ctx may be the cancelled one
	if cerr != nil && !errors.Is(cerr, storage.ErrUploadUnknown) {
		err = errors.Join(err, fmt.Errorf("cancelling the upload: %w", cerr))
	}
	return err
}
