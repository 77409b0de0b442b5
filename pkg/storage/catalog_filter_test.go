package storage

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// prefixFilter keeps the names it lists and reports the directories below
// which one of them lies; it records every name it was asked about.
type prefixFilter struct {
	keep  []string
	asked []string
}

func (f *prefixFilter) Keep(name string) bool {
	f.asked = append(f.asked, name)
	return slices.Contains(f.keep, name)
}

func (f *prefixFilter) MayKeepBelow(prefix string) bool {
	return slices.ContainsFunc(f.keep, func(k string) bool { return strings.HasPrefix(k, prefix) })
}

func TestFilteredCatalogPagesAreFullAndExact(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	names := []string{"a", "a-b", "a/b", "a/b/c", "a.b", "a0", "b", "b/a-c", "b/a/c", "hidden/x", "hidden/y/z", "lib/x/y/z", "z"}
	for _, n := range names {
		pushImage(t, s, n, "v1", n)
	}
	keep := []string{"a-b", "a/b/c", "b", "b/a/c", "lib/x/y/z", "not/there"}
	want := []string{"a-b", "a/b/c", "b", "b/a/c", "lib/x/y/z"}
	for _, n := range []int{1, 2, 3, 5, 100} {
		t.Run(fmt.Sprintf("pages of %d", n), func(t *testing.T) {
			var all []string
			last := ""
			for pages := 0; ; pages++ {
				f := &prefixFilter{keep: keep}
				page, more, err := s.CatalogFiltered(ctx, last, n, f)
				if err != nil {
					t.Fatal(err)
				}
				all = append(all, page...)
				if wantMore := len(all) < len(want); more != wantMore || (more && len(page) != n) {
					t.Fatalf("page %d after %q: %q, more %v; want a full page and more=%v", pages, last, page, more, wantMore)
				}
				for _, a := range f.asked {
					if strings.HasPrefix(a, "hidden/") {
						t.Fatalf("the walk read hidden/, where nothing may be kept (asked about %q)", a)
					}
				}
				if !more {
					break
				}
				last = page[len(page)-1]
			}
			if !slices.Equal(all, want) {
				t.Fatalf("filtered catalog = %q, want %q", all, want)
			}
		})
	}
	t.Run("nothing kept", func(t *testing.T) {
		page, more, err := s.CatalogFiltered(ctx, "", 10, &prefixFilter{})
		if err != nil || more || page == nil || len(page) != 0 {
			t.Fatalf("got %q, %v, %v; want an empty page", page, more, err)
		}
	})
}
