package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/opencontainers/go-digest"
)

// PlacesBlobs reports whether the driver writes a blob straight to its
// data path (StagedWriter, as S3 does), so that a whole blob sent into an
// empty session is better given to Upload.PutWhole than appended to the
// session and moved into place, which on S3 is a multipart upload of the
// session followed by a server-side copy. On other drivers the move is a
// rename and the session's way is as fast.
func (s *Store) PlacesBlobs() bool {
	_, ok := s.d.(StagedWriter)
	return ok
}

// PutWhole finishes an empty session with r, the whole blob (size bytes,
// -1 when unknown), as PutBlob stores a blob sent with its digest: straight
// to the blob's data path, verified before it is visible. It is what
// Append(ctx, 0, r) then Commit(ctx, d) do, with the same answers:
//   - the session is locked throughout, and must still exist and be empty
//     (else ErrUploadUnknown, ErrRangeInvalid);
//   - a body that fails (io.ErrUnexpectedEOF for one shorter than
//     announced, a client gone) returns its error, nothing is stored and
//     the session stays as it was, for the client to resume;
//   - content that is not d is ErrDigestInvalid, nothing is stored and the
//     session is removed, as Commit removes it;
//   - on success the blob is linked in the repository and the session
//     removed.
//
// Only on a driver that PlacesBlobs; on another it fails before reading r.
func (u *Upload) PutWhole(ctx context.Context, r io.Reader, size int64, d digest.Digest) (Descriptor, error) {
	s := u.s
	sw, ok := s.d.(StagedWriter)
	if !ok {
		return Descriptor{}, errors.New("storage: PutWhole on a driver without staged writes")
	}
	unlock, cur, err := u.lockToCommit(ctx, d)
	if err != nil {
		return Descriptor{}, err
	}
	defer unlock()
	u.size = cur
	if cur != 0 {
		return Descriptor{}, fmt.Errorf("%w: chunk starts at 0, upload has %d bytes", ErrRangeInvalid, cur)
	}
	body := &bodyReader{r: r}
	desc, err := s.putBlobInPlace(ctx, sw, u.repo, d, body, size)
	if berr := body.failure(); berr != nil && err != nil {
		// The body's own failure is the answer, whatever the driver made
		// of it, so the client hears what Append would have told it.
		return Descriptor{}, fmt.Errorf("%w (%v)", berr, err)
	}
	if err == nil || errors.Is(err, ErrDigestInvalid) {
		s.removeUpload(ctx, u.repo, u.id)
	}
	return desc, err
}

// bodyReader remembers the first error other than io.EOF its reader gave:
// the client's, not the storage's.
type bodyReader struct {
	mu  sync.Mutex // the S3 transport may read from another goroutine
	r   io.Reader
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		b.mu.Lock()
		if b.err == nil {
			b.err = err
		}
		b.mu.Unlock()
	}
	return n, err
}

func (b *bodyReader) failure() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}
