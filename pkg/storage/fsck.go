package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/wharf-registry/wharf/pkg/reference"
)

// Fsck checks that every link in every repository (layers, manifest
// revisions, tags, referrers) holds a valid digest naming a blob whose
// content matches it, and returns one line per problem, sorted. Each blob
// is read once however many links name it. An error means the check itself
// could not run to the end.
func (s *Store) Fsck(ctx context.Context) ([]string, error) {
	f := &fsck{s: s, verified: map[digest.Digest]string{}}
	err := s.d.Walk(ctx, reposRoot, func(fi FileInfo) error {
		if !fi.IsDir {
			return nil
		}
		base := path.Base(fi.Path)
		if !strings.HasPrefix(base, "_") {
			return nil
		}
		repo := strings.TrimPrefix(path.Dir(fi.Path), reposRoot+"/")
		if !reference.ValidRepository(repo) {
			f.problem(fi.Path, "directory is not a valid repository name")
			return ErrSkipDir
		}
		var err error
		switch base {
		case "_layers":
			err = f.checkLinks(ctx, layersPath(repo), 2, true)
		case "_manifests":
			err = f.checkManifests(ctx, repo)
		}
		if err != nil {
			return err
		}
		return ErrSkipDir
	})
	if ignoreNotFound(err) != nil {
		return nil, err
	}
	sort.Strings(f.problems)
	return f.problems, nil
}

type fsck struct {
	s        *Store
	verified map[digest.Digest]string // "" when the blob is sound
	problems []string
}

func (f *fsck) problem(p, msg string) {
	f.problems = append(f.problems, fmt.Sprintf("%s: %s", strings.TrimPrefix(p, v2Root+"/"), msg))
}

func (f *fsck) checkManifests(ctx context.Context, repo string) error {
	revisions := map[digest.Digest]bool{}
	err := f.s.walkLinks(ctx, revisionsPath(repo), 2, func(link string) error {
		if d, ok := f.checkLink(ctx, link, true); ok {
			revisions[d] = true
		}
		return nil
	})
	if ignoreNotFound(err) != nil {
		return err
	}
	err = f.s.walkTagLinks(ctx, tagsPath(repo), func(link string) error {
		if d, ok := f.checkLink(ctx, link, false); ok && !revisions[d] {
			f.problem(link, fmt.Sprintf("tag points at %s, which is not a manifest of the repository", d))
		}
		return nil
	})
	if ignoreNotFound(err) != nil {
		return err
	}
	// referrers/<alg>/<subject>/<alg>/<hex>/link: four levels.
	return ignoreNotFound(f.checkLinks(ctx, referrersPath(repo), 4, true))
}

func (f *fsck) checkLinks(ctx context.Context, root string, depth int, named bool) error {
	return ignoreNotFound(f.s.walkLinks(ctx, root, depth, func(link string) error {
		f.checkLink(ctx, link, named)
		return nil
	}))
}

// checkLink validates one link; named links live in <alg>/<hex>/ directories
// that must agree with their content.
func (f *fsck) checkLink(ctx context.Context, link string, named bool) (digest.Digest, bool) {
	b, err := f.s.d.GetContent(ctx, link)
	if err != nil {
		f.problem(link, err.Error())
		return "", false
	}
	d, err := reference.ParseDigest(string(trimSpace(b)))
	if err != nil {
		f.problem(link, fmt.Sprintf("not a digest: %v", err))
		return "", false
	}
	if named {
		dir := path.Dir(link)
		if path.Base(path.Dir(dir))+":"+path.Base(dir) != d.String() {
			f.problem(link, fmt.Sprintf("holds %s, which does not match its directory", d))
		}
	}
	if msg := f.verify(ctx, d); msg != "" {
		f.problem(link, msg)
		return d, false
	}
	return d, true
}

// verify hashes a blob once and remembers the verdict.
func (f *fsck) verify(ctx context.Context, d digest.Digest) string {
	if msg, ok := f.verified[d]; ok {
		return msg
	}
	msg := ""
	rc, err := f.s.d.Reader(ctx, blobDataPath(d), 0)
	switch {
	case errors.Is(err, ErrPathNotFound):
		msg = fmt.Sprintf("blob %s is missing", d)
	case err != nil:
		msg = fmt.Sprintf("blob %s: %v", d, err)
	default:
		v := d.Verifier()
		_, err := copyBuffered(v, rc)
		rc.Close()
		if err != nil && err != io.EOF {
			msg = fmt.Sprintf("blob %s: %v", d, err)
		} else if !v.Verified() {
			msg = fmt.Sprintf("blob %s: content does not match its digest", d)
		}
	}
	f.verified[d] = msg
	return msg
}
