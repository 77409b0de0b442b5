package storage

import (
	"context"
	"errors"
	"path"
	"sort"

	"github.com/wharf-registry/wharf/pkg/reference"
)

// Tags lists repo's tags in lexical order, starting after last, at most n of
// them (n < 0: no limit; n == 0: none, with more telling whether any
// exist). more reports that tags remain after the returned ones. A
// repository with neither tags nor manifests is ErrNameUnknown.
func (s *Store) Tags(ctx context.Context, repo, last string, n int) (tags []string, more bool, err error) {
	if err := checkRepo(repo); err != nil {
		return nil, false, err
	}
	entries, err := s.d.List(ctx, tagsPath(repo))
	if err != nil && !errors.Is(err, ErrPathNotFound) {
		return nil, false, err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if t := path.Base(e); reference.ValidTag(t) && t > last {
			names = append(names, t)
		}
	}
	// List's paths come sorted and share one parent, so their last
	// elements are in order already; sorting 10,000 names again on every
	// page of a walk cost a tenth of its time.
	if !sort.StringsAreSorted(names) {
		sort.Strings(names)
	}
	tags = []string{}
	for _, t := range names {
		// A tag directory without current/link (left by a crash, or by
		// registry:2's partial deletes) is no tag.
		if _, err := s.d.Stat(ctx, tagCurrentLinkPath(repo, t)); errors.Is(err, ErrPathNotFound) {
			continue
		} else if err != nil {
			return nil, false, err
		}
		if n >= 0 && len(tags) == n {
			more = true
			break
		}
		tags = append(tags, t)
	}
	if len(tags) == 0 && !more {
		exists, err := s.isRepository(ctx, repoPath(repo))
		if err != nil {
			return nil, false, err
		}
		if !exists {
			return nil, false, ErrNameUnknown
		}
	}
	return tags, more, nil
}

// isRepository reports whether dir holds a repository: a _manifests
// directory with at least one revision link or tag link. A repository whose
// manifests and tags were all deleted is therefore gone, as users expect.
func (s *Store) isRepository(ctx context.Context, dir string) (bool, error) {
	found := false
	stop := errors.New("found")
	check := func(root string, depth int) error {
		err := s.walkLinks(ctx, root, depth, func(string) error { found = true; return stop })
		if err != nil && err != stop && !errors.Is(err, ErrPathNotFound) {
			return err
		}
		return nil
	}
	// revisions/<alg>/<hex>/link, tags/<tag>/current/link
	if err := check(dir+"/_manifests/revisions", 2); err != nil || found {
		return found, err
	}
	if err := s.walkTagLinks(ctx, dir+"/_manifests/tags", func(string) error { found = true; return stop }); err != nil && err != stop && !errors.Is(err, ErrPathNotFound) {
		return false, err
	}
	return found, nil
}

// walkLinks calls fn with the path of every "link" file found depth
// directory levels below root (revisions/<alg>/<hex>/link is depth 2).
// Only a missing entry is skipped (deleted meanwhile, or a directory left
// without its link); any other error stops the walk: garbage collection
// marks through here, and an entry it did not see is one it would delete.
func (s *Store) walkLinks(ctx context.Context, root string, depth int, fn func(link string) error) error {
	entries, err := s.d.List(ctx, root)
	if err != nil {
		return err
	}
	return s.walkLinkEntries(ctx, entries, depth, fn)
}

// walkLinkEntries is walkLinks below its root, where a directory that
// vanished since its parent was listed is skipped. fn's errors come back
// unchanged, even one wrapping ErrPathNotFound.
func (s *Store) walkLinkEntries(ctx context.Context, entries []string, depth int, fn func(link string) error) error {
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		if depth == 1 {
			link := e + "/link"
			if ok, err := s.linkExists(ctx, link); err != nil {
				return err
			} else if !ok {
				continue
			}
			if err := fn(link); err != nil {
				return err
			}
			continue
		}
		sub, err := s.d.List(ctx, e)
		if errors.Is(err, ErrPathNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if err := s.walkLinkEntries(ctx, sub, depth-1, fn); err != nil {
			return err
		}
	}
	return nil
}

// walkTagLinks calls fn with each tags/<tag>/current/link that exists,
// stopping on any error but "not found", as walkLinks does.
func (s *Store) walkTagLinks(ctx context.Context, root string, fn func(link string) error) error {
	entries, err := s.d.List(ctx, root)
	if err != nil {
		return err
	}
	for _, e := range entries {
		link := e + "/current/link"
		if ok, err := s.linkExists(ctx, link); err != nil {
			return err
		} else if !ok {
			continue
		}
		if err := fn(link); err != nil {
			return err
		}
	}
	return nil
}

// linkExists reports whether link exists; only "not found" means no.
func (s *Store) linkExists(ctx context.Context, link string) (bool, error) {
	_, err := s.d.Stat(ctx, link)
	if errors.Is(err, ErrPathNotFound) {
		return false, nil
	}
	return err == nil, err
}
