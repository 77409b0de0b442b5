package storage

import (
	"container/heap"
	"context"
	"errors"
	"path"
	"strings"

	"github.com/wharf-registry/wharf/pkg/reference"
)

// Catalog lists repositories in lexical order, starting after last, at most
// n (n < 0: no limit). A repository is a directory under repositories/ with
// at least one manifest revision or tag.
//
// The walk is lazy and stops once it has n+1 names, so memory stays flat
// however many repositories there are. Plain depth-first order is not
// lexical order ("a-b" sorts before "a/b" but after "a"), so the walk keeps a
// small priority queue holding, for each directory seen, the candidate name
// "x" and the pending subtree "x/", and always expands the smallest.
func (s *Store) Catalog(ctx context.Context, last string, n int) (repos []string, more bool, err error) {
	repos = []string{}
	q := &catalogQueue{}
	if err := s.pushChildren(ctx, q, "", last); err != nil {
		return nil, false, err
	}
	for q.Len() > 0 {
		if err := ctx.Err(); err != nil {
			return nil, false, err
		}
		it := heap.Pop(q).(catalogItem)
		if it.subtree {
			if err := s.pushChildren(ctx, q, it.name, last); err != nil {
				return nil, false, err
			}
			continue
		}
		if it.name <= last || !reference.ValidRepository(it.name) {
			continue
		}
		ok, err := s.isRepository(ctx, repoPath(it.name))
		if err != nil {
			return nil, false, err
		}
		if !ok {
			continue
		}
		if n >= 0 && len(repos) == n {
			return repos, true, nil
		}
		repos = append(repos, it.name)
	}
	return repos, false, nil
}

// pushChildren queues the subdirectories of repositories/<parent>, skipping
// registry:2's "_" directories (no name component starts with "_") and
// subtrees that lie entirely at or before last.
func (s *Store) pushChildren(ctx context.Context, q *catalogQueue, parent, last string) error {
	dir := reposRoot
	if parent != "" {
		dir = repoPath(parent)
	}
	entries, err := s.d.List(ctx, dir)
	if errors.Is(err, ErrPathNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		base := path.Base(e)
		if strings.HasPrefix(base, "_") || strings.HasPrefix(base, ".") {
			continue
		}
		name := base
		if parent != "" {
			name = parent + "/" + base
		}
		if len(name) > reference.MaxRepositoryLength {
			continue
		}
		if name > last {
			heap.Push(q, catalogItem{name: name})
		}
		// Every name below is "name/..."; the whole subtree is at or before
		// last unless last lies inside it or before it.
		if prefix := name + "/"; prefix > last || strings.HasPrefix(last, prefix) {
			if fi, err := s.d.Stat(ctx, e); err == nil && fi.IsDir {
				heap.Push(q, catalogItem{name: name, subtree: true})
			}
		}
	}
	return nil
}

// catalogItem is a repository candidate, or a directory to expand later.
type catalogItem struct {
	name    string
	subtree bool
}

// key orders items: a subtree sorts as "name/", before any of its names.
func (it catalogItem) key() string {
	if it.subtree {
		return it.name + "/"
	}
	return it.name
}

type catalogQueue []catalogItem

func (q catalogQueue) Len() int           { return len(q) }
func (q catalogQueue) Less(i, j int) bool { return q[i].key() < q[j].key() }
func (q catalogQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *catalogQueue) Push(x any)        { *q = append(*q, x.(catalogItem)) }
func (q *catalogQueue) Pop() any {
	old := *q
	it := old[len(old)-1]
	*q = old[:len(old)-1]
	return it
}
