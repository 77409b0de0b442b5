package storage

import (
	"context"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
)

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
	if err := s.publishBlob(ctx, repo, d, n, commit, discard); err != nil {
		discard() // a no-op once committed or dropped
		return Descriptor{}, err
	}
	return Descriptor{Digest: d, Size: n, MediaType: blobMediaType}, nil
}
