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
	sort.Strings(names)
	tags = []string{}
	for _, t := range names {
		// A tag directory without current/link (left by a crash, or by
		// registry:2's partial deletes) is no tag.
		if _, err := s.d.Stat(ctx, tagCurrentLinkPath(repo, t)); err != nil {
			continue
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
func (s *Store) walkLinks(ctx context.Context, root string, depth int, fn func(link string) error) error {
	entries, err := s.d.List(ctx, root)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		if depth == 1 {
			link := e + "/link"
			if _, err := s.d.Stat(ctx, link); err != nil {
				continue
			}
			if err := fn(link); err != nil {
				return err
			}
			continue
		}
		if err := s.walkLinks(ctx, e, depth-1, fn); err != nil && !errors.Is(err, ErrPathNotFound) {
			return err
		}
	}
	return nil
}

// walkTagLinks calls fn with each tags/<tag>/current/link that exists.
func (s *Store) walkTagLinks(ctx context.Context, root string, fn func(link string) error) error {
	entries, err := s.d.List(ctx, root)
	if err != nil {
		return err
	}
	for _, e := range entries {
		link := e + "/current/link"
		if _, err := s.d.Stat(ctx, link); err != nil {
			continue
		}
		if err := fn(link); err != nil {
			return err
		}
	}
	return nil
}
