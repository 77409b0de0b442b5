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
	return s.CatalogFiltered(ctx, last, n, nil)
}

// CatalogFilter narrows a catalog listing to the names one reader may see.
type CatalogFilter interface {
	// Keep reports whether name is listed.
	Keep(name string) bool
	// MayKeepBelow reports whether a name starting with prefix (which ends
	// in "/") may be kept; false skips that whole directory. It may err
	// towards true, never towards false.
	MayKeepBelow(prefix string) bool
}

// CatalogFiltered is Catalog listing only the names f keeps (nil keeps
// every name). Pages stay full and more stays exact: refused names are
// skipped before they count. f is asked before the store, so a refused
// name costs no storage request and a refused directory is never read.
func (s *Store) CatalogFiltered(ctx context.Context, last string, n int, f CatalogFilter) (repos []string, more bool, err error) {
	repos = []string{}
	q := &catalogQueue{filter: f}
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
		if name > last && (q.filter == nil || q.filter.Keep(name)) {
			heap.Push(q, catalogItem{name: name, key: name})
		}
		// Every name below is "name/..."; the whole subtree is at or before
		// last unless last lies inside it or before it. The entry is queued
		// without asking whether it is a directory: only the few subtrees
		// that sort before the page's end are ever expanded, and listing a
		// file is "not found", which pushChildren takes as empty.
		prefix := name + "/"
		if (prefix > last || strings.HasPrefix(last, prefix)) && (q.filter == nil || q.filter.MayKeepBelow(prefix)) {
			heap.Push(q, catalogItem{name: name, key: prefix, subtree: true})
		}
	}
	return nil
}

// catalogItem is a repository candidate, or a directory to expand later.
// key orders items: a subtree sorts as "name/", before any of its names.
// It is kept rather than built in Less, which the heap calls O(log n)
// times for each of the thousands of entries a page may queue.
type catalogItem struct {
	name    string
	key     string
	subtree bool
}

// catalogQueue is the walk's priority queue, with the filter deciding
// which subtrees are worth queueing.
type catalogQueue struct {
	items  []catalogItem
	filter CatalogFilter
}

func (q *catalogQueue) Len() int           { return len(q.items) }
func (q *catalogQueue) Less(i, j int) bool { return q.items[i].key < q.items[j].key }
func (q *catalogQueue) Swap(i, j int)      { q.items[i], q.items[j] = q.items[j], q.items[i] }
func (q *catalogQueue) Push(x any)         { q.items = append(q.items, x.(catalogItem)) }
func (q *catalogQueue) Pop() any {
	it := q.items[len(q.items)-1]
	q.items = q.items[:len(q.items)-1]
	return it
}
