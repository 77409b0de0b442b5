package storage

import (
	"context"
	"errors"
	"fmt"
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
	purged, visited := 0, false
	err := s.d.Walk(ctx, reposRoot, func(fi FileInfo) error {
		visited = true
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
		if errors.Is(err, ErrPathNotFound) {
			return ErrSkipDir // emptied meanwhile
		}
		if err != nil {
			return err
		}
		for _, dir := range ids {
			ok, err := s.purgeUpload(ctx, dir, cutoff)
			if err != nil {
				return err
			}
			if ok {
				purged++
			}
		}
		return ErrSkipDir
	})
	if errors.Is(err, ErrPathNotFound) && !visited {
		err = nil // no repository yet
	}
	if err != nil {
		return purged, fmt.Errorf("purging uploads: %w", err)
	}
	return purged, nil
}

// purgeUpload removes one session directory if it is older than cutoff.
// Sessions whose startedat is missing or unreadable go by the directory's
// age: a crash during NewUpload must not leave them forever. A startedat
// that cannot be read for another reason (an I/O error) stops the purge:
// guessing the age could remove a live session.
func (s *Store) purgeUpload(ctx context.Context, dir string, cutoff time.Time) (bool, error) {
	id := path.Base(dir)
	unlock := s.uploadLocks.lock(id)
	defer unlock()
	var started time.Time
	b, err := s.d.GetContent(ctx, dir+"/startedat")
	switch {
	case err == nil:
		started, _ = time.Parse(time.RFC3339, string(trimSpace(b)))
	case !errors.Is(err, ErrPathNotFound):
		return false, err
	}
	if started.IsZero() {
		fi, err := s.d.Stat(ctx, dir)
		if errors.Is(err, ErrPathNotFound) {
			return false, nil // removed meanwhile
		}
		if err != nil {
			return false, err
		}
		started = fi.ModTime
	}
	if !started.Before(cutoff) {
		return false, nil
	}
	if err := s.d.Delete(ctx, dir); errors.Is(err, ErrPathNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	s.log.Info("storage: purged stale upload", "path", dir, "started", started.Format(time.RFC3339))
	return true, nil
}
