package authserver

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watchSettle is how long the watched files must stay quiet before a
// reload: editors and `kubectl apply` touch a file several times per save.
const watchSettle = 200 * time.Millisecond

// Watch reloads the configuration when its file, or a key or certificate
// file it names, changes. It watches directories, not files, because
// editors and Kubernetes replace files (rename, or swap a ..data symlink)
// and a watch on the old inode would go silent. Watch returns once the
// watch is in place; it stops when ctx is done.
func (s *Server) Watch(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch config: %w", err)
	}
	names, err := s.watchFiles(w)
	if err != nil {
		w.Close()
		return err
	}
	go s.watchLoop(ctx, w, names)
	return nil
}

// watchFiles adds the directories of the config and the files it names
// and returns the base names that matter in them.
func (s *Server) watchFiles(w *fsnotify.Watcher) (map[string]bool, error) {
	cfg := s.Config()
	files := []string{s.path, cfg.Server.Certificate, cfg.Server.Key, cfg.Token.Certificate, cfg.Token.Key}
	for _, k := range cfg.Token.ExtraKeys {
		files = append(files, k.Certificate, k.Key)
	}
	names := map[string]bool{"..data": true} // Kubernetes ConfigMap/Secret swap
	for _, f := range files {
		if f == "" {
			continue
		}
		abs, err := filepath.Abs(f)
		if err != nil {
			return nil, err
		}
		if err := w.Add(filepath.Dir(abs)); err != nil {
			if f == s.path {
				return nil, fmt.Errorf("watch %s: %w", filepath.Dir(abs), err)
			}
			s.log.Warn("cannot watch a key directory; changes there need SIGHUP", "dir", filepath.Dir(abs), "err", err)
			continue
		}
		names[filepath.Base(abs)] = true
	}
	return names, nil
}

func (s *Server) watchLoop(ctx context.Context, w *fsnotify.Watcher, names map[string]bool) {
	defer w.Close()
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			if names[filepath.Base(ev.Name)] && !ev.Has(fsnotify.Chmod) {
				settle.Reset(watchSettle)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			s.log.Warn("config watch error", "err", err)
		case <-settle.C:
			if s.Reload() == nil {
				// The new config may name key files in other directories.
				more, err := s.watchFiles(w)
				if err == nil {
					names = more
				}
			}
		}
	}
}
