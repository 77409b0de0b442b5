package storage

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
)

// putBlobInPlace writes a blob straight to its data path on a driver with
// staged writes: one verified request when the driver can make one
// (VerifiedPutter), else a staged write.
func (s *Store) putBlobInPlace(ctx context.Context, sw StagedWriter, repo string, d digest.Digest, r io.Reader, size int64) (Descriptor, error) {
	if vp, ok := s.d.(VerifiedPutter); ok && size >= 0 {
		desc, err := s.putBlobVerified(ctx, vp, repo, d, r, size)
		if !errors.Is(err, ErrNotVerifiable) {
			return desc, err
		}
	}
	return s.putBlobStaged(ctx, sw, repo, d, r, size)
}

// putBlobStaged is PutBlob on a driver with staged writes: the body streams
// straight to the blob's data path, hashed on the way, and the driver
// commits it only after size and digest are verified. Whatever fails first
// (the body, the driver, the check) discards the staged file, so the data
// path never holds unverified bytes; there is no upload session to clean
// up and no move into place.
func (s *Store) putBlobStaged(ctx context.Context, sw StagedWriter, repo string, d digest.Digest, r io.Reader, size int64) (Descriptor, error) {
	if err := checkRepo(repo); err != nil {
		return Descriptor{}, err
	}
	w, err := sw.StagedWriter(ctx, blobDataPath(d))
	if err != nil {
		return Descriptor{}, err
	}
	discard := func() { w.Discard(context.WithoutCancel(ctx)) }
	h := d.Algorithm().Hash()
	err = copyHashing(ctx, w, h, r)
	n := w.Size()
	if err == nil && size >= 0 && n != size {
		err = fmt.Errorf("%w: received %d bytes, announced %d", ErrSizeInvalid, n, size)
	}
	if err == nil {
		if got := digest.NewDigest(d.Algorithm(), h); got != d {
			err = fmt.Errorf("%w: content is %s, client said %s", ErrDigestInvalid, got, d)
		}
	}
	if err != nil {
		discard()
		return Descriptor{}, err
	}
	commit := func() error { return w.Commit(ctx) }
	drop := func() error { discard(); return nil }
	if err := s.publishBlob(ctx, repo, d, n, commit, drop); err != nil {
		discard() // a no-op once committed or dropped
		return Descriptor{}, err
	}
	return Descriptor{Digest: d, Size: n, MediaType: blobMediaType}, nil
}

// putBlobVerified is PutBlob on a driver whose storage verifies a sha256
// named up front: the body streams to the blob's data path in one request
// that stores nothing unless the bytes match (VerifiedPutter). A blob
// already there is not rewritten, but the body is still read and checked,
// so the answer is the same either way. ErrNotVerifiable, with nothing
// read, sends PutBlob another way.
func (s *Store) putBlobVerified(ctx context.Context, vp VerifiedPutter, repo string, d digest.Digest, r io.Reader, size int64) (Descriptor, error) {
	if err := checkRepo(repo); err != nil {
		return Descriptor{}, err
	}
	place := func() error { return vp.PutVerified(ctx, blobDataPath(d), r, size, d) }
	check := func() error { return checkBody(r, d, size) }
	if err := s.publishBlob(ctx, repo, d, size, place, check); err != nil {
		return Descriptor{}, err
	}
	return Descriptor{Digest: d, Size: size, MediaType: blobMediaType}, nil
}

// checkBody reads r to its end and fails unless it is size bytes of
// digest d.
func checkBody(r io.Reader, d digest.Digest, size int64) error {
	buf := getBuf()
	defer putBuf(buf)
	h := d.Algorithm().Hash()
	n, err := io.CopyBuffer(h, r, *buf)
	switch {
	case err != nil:
		return err
	case n != size:
		return fmt.Errorf("%w: received %d bytes, announced %d", ErrSizeInvalid, n, size)
	}
	if got := digest.NewDigest(d.Algorithm(), h); got != d {
		return fmt.Errorf("%w: content is %s, client said %s", ErrDigestInvalid, got, d)
	}
	return nil
}
