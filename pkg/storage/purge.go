package storage

import (
	"context"
	"errors"
	"path"
	"time"
)

// PurgeUploads removes sessions started more than olderThan ago (0 means
// Options.UploadPurgeAge) in every repository and returns how many.
func (s *Store) PurgeUploads(ctx context.Context, olderThan time.Duration) (int, error) {
	if olderThan <= 0 {
		olderThan = s.opts.UploadPurgeAge
	}
	cutoff := time.Now().Add(-olderThan)
	purged := 0
	err := s.d.Walk(ctx, reposRoot, func(fi FileInfo) error {
		if !fi.IsDir {
			return nil
		}
		switch path.Base(fi.Path) {
		case "_layers", "_manifests":
			return ErrSkipDir
		case "_uploads":
		default:
			return nil
		}
		ids, err := s.d.List(ctx, fi.Path)
		if err != nil {
			return nil
		}
		for _, dir := range ids {
			if s.purgeUpload(ctx, dir, cutoff) {
				purged++
			}
		}
		return ErrSkipDir
	})
	if errors.Is(err, ErrPathNotFound) {
		err = nil
	}
	return purged, err
}

// purgeUpload removes one session directory if it is older than cutoff.
// Sessions whose startedat is missing or unreadable go by the directory's
// age: a crash during NewUpload must not leave them forever.
func (s *Store) purgeUpload(ctx context.Context, dir string, cutoff time.Time) bool {
	id := path.Base(dir)
	unlock := s.uploadLocks.lock(id)
	defer unlock()
	var started time.Time
	if b, err := s.d.GetContent(ctx, dir+"/startedat"); err == nil {
		started, _ = time.Parse(time.RFC3339, string(trimSpace(b)))
	}
	if started.IsZero() {
		fi, err := s.d.Stat(ctx, dir)
		if err != nil {
			return false
		}
		started = fi.ModTime
	}
	if !started.Before(cutoff) {
		return false
	}
	if err := s.d.Delete(ctx, dir); err != nil {
		s.log.Warn("storage: purging upload", "path", dir, "err", err)
		return false
	}
	s.log.Info("storage: purged stale upload", "path", dir, "started", started.Format(time.RFC3339))
	return true
}
