package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/pkg/reference"
)

// copyBufferSize is the buffer used for every blob copy: big buffers make
// fewer syscalls, and the pool keeps them from being allocated per request.
const copyBufferSize = 1 << 20

var bufPool = sync.Pool{New: func() any { b := make([]byte, copyBufferSize); return &b }}

func getBuf() *[]byte  { return bufPool.Get().(*[]byte) }
func putBuf(b *[]byte) { bufPool.Put(b) }

// keyedMutex serialises work on one key (a blob digest, an upload id)
// within this process. Locks exist only while someone holds or waits for
// them, so memory does not grow with the number of keys ever seen, and
// unrelated keys never wait for each other (an upload lock is held for a
// whole chunk transfer).
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyedLock
}

type keyedLock struct {
	sync.Mutex
	refs int
}

func (m *keyedMutex) lock(key string) (unlock func()) {
	m.mu.Lock()
	if m.locks == nil {
		m.locks = map[string]*keyedLock{}
	}
	l := m.locks[key]
	if l == nil {
		l = &keyedLock{}
		m.locks[key] = l
	}
	l.refs++
	m.mu.Unlock()

	l.Lock()
	return func() {
		l.Unlock()
		m.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(m.locks, key)
		}
		m.mu.Unlock()
	}
}

// newUUID returns a random version 4 UUID in lowercase, as registry:2 makes
// upload ids.
func newUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// validUploadID accepts the canonical lowercase 8-4-4-4-12 UUID form.
func validUploadID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		}
	}
	return true
}

func checkRepo(repo string) error {
	if !reference.ValidRepository(repo) {
		return ErrNameInvalid
	}
	return nil
}

// checkDigest validates a digest given by a caller. A malformed one is
// reported as reference.ErrDigestInvalid (storage's ErrDigestInvalid means
// content that does not match), another algorithm as ErrUnsupportedDigest.
func checkDigest(d digest.Digest) error {
	_, err := reference.ParseDigest(string(d))
	if errors.Is(err, reference.ErrDigestUnsupported) {
		return fmt.Errorf("%w: %.40q", ErrUnsupportedDigest, d.Algorithm())
	}
	return err
}

// readLink reads a link file and validates the digest in it. A link that
// does not hold a digest this registry can serve is treated as absent.
func (s *Store) readLink(ctx context.Context, p string) (digest.Digest, error) {
	b, err := s.d.GetContent(ctx, p)
	if err != nil {
		return "", err
	}
	d, err := reference.ParseDigest(string(trimSpace(b)))
	if err != nil {
		s.log.Warn("storage: ignoring malformed link", "path", p, "err", err)
		return "", fmt.Errorf("%w: malformed link %s: %v", ErrPathNotFound, p, err)
	}
	return d, nil
}

// readLinkIfPresent is readLink for walks that tolerate a missing (or
// malformed) link: ok is false then, and any other error is returned.
func (s *Store) readLinkIfPresent(ctx context.Context, p string) (d digest.Digest, ok bool, err error) {
	d, err = s.readLink(ctx, p)
	if errors.Is(err, ErrPathNotFound) {
		return "", false, nil
	}
	return d, err == nil, err
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\n') {
		b = b[1:]
	}
	return b
}

// writeLink writes a link atomically. Rewriting an existing link is
// deliberate: it refreshes the link's mtime, which garbage collection reads
// as "in use right now".
func (s *Store) writeLink(ctx context.Context, p string, d digest.Digest) error {
	return s.d.PutContent(ctx, p, []byte(d.String()))
}

// touch refreshes p's mtime when the driver can do it cheaply (see Toucher)
// and, either way, fails with ErrPathNotFound when p is missing.
func (s *Store) touch(ctx context.Context, p string) error {
	if t, ok := s.d.(Toucher); ok {
		return t.Touch(ctx, p)
	}
	_, err := s.d.Stat(ctx, p)
	return err
}

// touchLink refreshes a link's mtime, rewriting it when the driver cannot
// touch. A missing link is ErrPathNotFound either way.
func (s *Store) touchLink(ctx context.Context, p string) (digest.Digest, error) {
	if t, ok := s.d.(Toucher); ok {
		if err := t.Touch(ctx, p); err != nil {
			return "", err
		}
		return s.readLink(ctx, p)
	}
	d, err := s.readLink(ctx, p)
	if err != nil {
		return "", err
	}
	return d, s.writeLink(ctx, p, d)
}

// copyBuffered copies with a pooled 1 MiB buffer.
func copyBuffered(dst io.Writer, src io.Reader) (int64, error) {
	buf := getBuf()
	defer putBuf(buf)
	return io.CopyBuffer(dst, src, *buf)
}
