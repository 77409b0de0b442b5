package storage

import (
	"context"
	"errors"
	"time"

	"github.com/opencontainers/go-digest"
)

// linkRefreshAge is how old a link gets before a read that reports its
// content present renews it. A client told that a blob or a manifest
// exists (HEAD) skips uploading it and names it in a manifest later, maybe
// minutes later; a garbage collection in between would otherwise remove
// old, unreferenced content the client now relies on, and its push would
// fail with MANIFEST_BLOB_UNKNOWN. Renewed links are younger than any
// sensible grace period (GCOptions.GracePeriod), and renewing only old
// ones keeps a stream of reads from turning into a stream of writes.
const linkRefreshAge = time.Minute

// refreshLink renews link, which names d, when it is older than
// linkRefreshAge and checks, under d's lock, that d's data is still there:
// for a collection in this process the check and the renewal are one step,
// so content reported present stays so for a grace period. It returns
// ErrPathNotFound when the link or the data went meanwhile. Failing to
// renew is no reason to fail a read, so other errors are only logged.
func (s *Store) refreshLink(ctx context.Context, link string, d digest.Digest) error {
	if s.opts.ReadOnly {
		return nil // nothing is pushed, so nothing needs protecting
	}
	fi, err := s.d.Stat(ctx, link)
	if err != nil {
		return err
	}
	if time.Since(fi.ModTime) < linkRefreshAge {
		return nil
	}
	unlock := s.blobLocks.lock(d.String())
	defer unlock()
	target, err := s.touchLink(ctx, link)
	if err == nil {
		_, err = s.d.Stat(ctx, blobDataPath(target))
	}
	if err != nil && !errors.Is(err, ErrPathNotFound) {
		s.log.Warn("storage: renewing a link read by a client", "link", link, "err", err)
		return nil
	}
	return err
}
