package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/wharf-registry/wharf/pkg/manifest"
)

func TestTagsPaginateInLexicalOrder(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	img := pushImage(t, s, "app", "", "x")
	body := imageBody(manifest.MediaTypeOCIManifest, img.Blobs[0], img.Blobs[1:], nil, "")
	all := []string{"1.0", "A", "_z", "b", "latest", "v1", "v10", "v2"}
	for _, tag := range []string{"v2", "latest", "v10", "b", "A", "1.0", "v1", "_z"} {
		putManifest(t, s, "app", tag, manifest.MediaTypeOCIManifest, body)
	}
	tests := []struct {
		last string
		n    int
		want []string
		more bool
	}{
		{"", -1, all, false},
		{"", 3, all[:3], true},
		{"A", 3, all[2:5], true},
		{"latest", 3, all[5:], false},
		{"v10", 100, all[7:], false},
		{"v2", 10, []string{}, false},
		{"c", 1, []string{"latest"}, true},
		{"", 0, []string{}, true},
		{"", len(all), all, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("last=%s,n=%d", tt.last, tt.n), func(t *testing.T) {
			got, more, err := s.Tags(ctx, "app", tt.last, tt.n)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") || more != tt.more || got == nil {
				t.Fatalf("Tags = %q, more=%v; want %q, more=%v", got, more, tt.want, tt.more)
			}
		})
	}
}

func TestTagsOfARepositoryWithoutManifestsIsNameUnknown(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	pushBlob(t, s, "blobs-only", []byte("x"))
	pushImage(t, s, "untagged", "", "x")
	pushImage(t, s, "emptied", "v1", "y")
	if err := s.DeleteTag(ctx, "emptied", "v1"); err != nil {
		t.Fatal(err)
	}
	for _, repo := range []string{"nothing", "blobs-only"} {
		if _, _, err := s.Tags(ctx, repo, "", -1); !errors.Is(err, ErrNameUnknown) {
			t.Errorf("Tags(%s) = %v, want ErrNameUnknown", repo, err)
		}
	}
	for _, repo := range []string{"untagged", "emptied"} {
		tags, more, err := s.Tags(ctx, repo, "", -1)
		if err != nil || len(tags) != 0 || more {
			t.Errorf("Tags(%s) = %v, %v, %v; want an empty list", repo, tags, more, err)
		}
	}
}

func TestCatalogListsRepositoriesInLexicalOrderPageByPage(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	names := []string{"a", "a-b", "a/b", "a/b/c", "a.b", "a0", "b", "b/a-c", "b/a/c", "lib/x/y/z", "z"}
	for _, n := range names {
		pushImage(t, s, n, "v1", n)
	}
	// Directories that are not repositories: only blobs, or nothing left.
	pushBlob(t, s, "blobs/only", []byte("x"))
	pushImage(t, s, "gone", "v1", "gone")
	gone, _ := s.GetManifest(ctx, "gone", "v1")
	if err := s.DeleteManifest(ctx, "gone", gone.Digest); err != nil {
		t.Fatal(err)
	}
	want := append([]string(nil), names...)
	sort.Strings(want)

	got, more, err := s.Catalog(ctx, "", -1)
	if err != nil || more || strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("Catalog = %q, %v, %v\nwant %q", got, more, err, want)
	}
	for _, n := range []int{1, 2, 3, 5} {
		t.Run(fmt.Sprintf("pages of %d", n), func(t *testing.T) {
			var all []string
			last := ""
			for {
				page, more, err := s.Catalog(ctx, last, n)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) > n {
					t.Fatalf("page of %d for n=%d", len(page), n)
				}
				all = append(all, page...)
				if !more {
					break
				}
				last = page[len(page)-1]
			}
			if strings.Join(all, " ") != strings.Join(want, " ") {
				t.Fatalf("paged catalog = %q\nwant %q", all, want)
			}
		})
	}
	t.Run("last inside a nested subtree", func(t *testing.T) {
		got, _, err := s.Catalog(ctx, "a/b", 2)
		if err != nil || strings.Join(got, " ") != "a/b/c a0" {
			t.Fatalf("Catalog(last=a/b) = %q, %v", got, err)
		}
	})
	t.Run("last not a repository", func(t *testing.T) {
		got, _, err := s.Catalog(ctx, "c", 10)
		if err != nil || strings.Join(got, " ") != "lib/x/y/z z" {
			t.Fatalf("Catalog(last=c) = %q, %v", got, err)
		}
	})
}

func TestRepositoryLeavesCatalogWhenItsLastManifestGoes(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	a := pushImage(t, s, "team/app", "v1", "a")
	b := pushImage(t, s, "team/app", "", "b")
	inCatalog := func() bool {
		repos, _, err := s.Catalog(ctx, "", -1)
		if err != nil {
			t.Fatal(err)
		}
		return len(repos) == 1 && repos[0] == "team/app"
	}
	if !inCatalog() {
		t.Fatal("repository missing from catalog")
	}
	if err := s.DeleteManifest(ctx, "team/app", a.Manifest.Digest); err != nil {
		t.Fatal(err)
	}
	if !inCatalog() {
		t.Fatal("repository with an untagged manifest left the catalog")
	}
	if err := s.DeleteManifest(ctx, "team/app", b.Manifest.Digest); err != nil {
		t.Fatal(err)
	}
	if inCatalog() {
		t.Fatal("repository without manifests still in catalog")
	}
	if _, _, err := s.Tags(ctx, "team/app", "", -1); !errors.Is(err, ErrNameUnknown) {
		t.Errorf("Tags of emptied repository = %v, want ErrNameUnknown", err)
	}
}

func TestReferrersListAndFilterByArtifactType(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	subject := pushImage(t, s, "app", "v1", "subject")
	empty := pushBlob(t, s, "app", []byte("{}"))
	put := func(artifactType string, annotations string) Descriptor {
		body := imageBody(manifest.MediaTypeOCIManifest, empty, nil, &subject.Manifest, artifactType)
		body = []byte(strings.Replace(string(body), `"schemaVersion"`, `"annotations":{"note":"`+annotations+`"},"schemaVersion"`, 1))
		return putManifest(t, s, "app", "", manifest.MediaTypeOCIManifest, body)
	}
	sig := put("application/vnd.example.sig", "signature")
	sbom := put("application/vnd.example.sbom", "sbom")
	// An index can refer too; its artifactType is its own member.
	idx := []byte(`{"schemaVersion":2,"mediaType":"` + manifest.MediaTypeOCIIndex + `","artifactType":"application/vnd.example.sig","manifests":[],"subject":{"mediaType":"` + manifest.MediaTypeOCIManifest + `","digest":"` + subject.Manifest.Digest.String() + `","size":` + fmt.Sprint(subject.Manifest.Size) + `}}`)
	idxDesc := putManifest(t, s, "app", "", manifest.MediaTypeOCIIndex, idx)
	// A referrer in another repository stays there.
	pushImage(t, s, "other", "v1", "subject")

	tests := []struct {
		artifactType string
		want         map[string]string // digest -> artifactType
	}{
		{"", map[string]string{sig.Digest.String(): "application/vnd.example.sig", sbom.Digest.String(): "application/vnd.example.sbom", idxDesc.Digest.String(): "application/vnd.example.sig"}},
		{"application/vnd.example.sbom", map[string]string{sbom.Digest.String(): "application/vnd.example.sbom"}},
		{"application/vnd.example.sig", map[string]string{sig.Digest.String(): "application/vnd.example.sig", idxDesc.Digest.String(): "application/vnd.example.sig"}},
		{"application/vnd.none", map[string]string{}},
	}
	for _, tt := range tests {
		t.Run("filter="+tt.artifactType, func(t *testing.T) {
			got, _, err := s.Referrers(ctx, "app", subject.Manifest.Digest, tt.artifactType, "", 1000)
			if err != nil || got == nil {
				t.Fatalf("Referrers = %v, %v", got, err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d referrers, want %d: %+v", len(got), len(tt.want), got)
			}
			for _, d := range got {
				if tt.want[d.Digest.String()] != d.ArtifactType {
					t.Errorf("unexpected %s (%s)", d.Digest, d.ArtifactType)
				}
				if d.Size <= 0 || (d.MediaType != manifest.MediaTypeOCIManifest && d.MediaType != manifest.MediaTypeOCIIndex) {
					t.Errorf("descriptor %+v lacks size or media type", d)
				}
				if d.Digest == sig.Digest && d.Annotations["note"] != "signature" {
					t.Errorf("annotations not reported: %v", d.Annotations)
				}
			}
		})
	}
	if got, _, err := s.Referrers(ctx, "other", subject.Manifest.Digest, "", "", 1000); err != nil || len(got) != 0 {
		t.Errorf("referrers leaked across repositories: %v, %v", got, err)
	}
	if got, _, err := s.Referrers(ctx, "app", sha256Of([]byte("no such subject")), "", "", 1000); err != nil || got == nil || len(got) != 0 {
		t.Errorf("referrers of an unknown subject = %v, %v; want an empty list", got, err)
	}
}

func TestCatalogOrderMatchesSortedNamesOnATrickyTree(t *testing.T) {
	root := t.TempDir()
	// Names built from parts that stress the order of '-', '.', '_' and '/'
	// (0x2d, 0x2e, 0x5f, 0x2f): a-b < a.b < a/b < a0 < a_b.
	parts := []string{"a", "a-b", "a.b", "a_b", "a0", "b", "a--c"}
	var names []string
	for _, p1 := range parts {
		names = append(names, p1)
		for _, p2 := range parts[:4] {
			names = append(names, p1+"/"+p2)
			names = append(names, p1+"/"+p2+"/x")
		}
	}
	m := sha256Of([]byte("m"))
	for i, n := range names {
		if i%5 == 4 {
			continue // a namespace directory only, not a repository
		}
		writeFile(t, v2(root, "repositories", n, "_manifests", "revisions", "sha256", m.Encoded(), "link"), []byte(m.String()))
	}
	var want []string
	for i, n := range names {
		if i%5 != 4 {
			want = append(want, n)
		}
	}
	sort.Strings(want)
	s := reopen(t, root)
	ctx := context.Background()
	var got []string
	last := ""
	for {
		page, more, err := s.Catalog(ctx, last, 7)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page...)
		if !more {
			break
		}
		last = page[len(page)-1]
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("catalog:\n%q\nwant:\n%q", got, want)
	}
}

// TestCatalogFailsClosedOnStorageErrors: an error reading any directory of
// the walk ends the listing with that error, never a shorter catalog that
// says nothing is missing; a stray file where a directory could be is no
// error and no repository.
func TestCatalogFailsClosedOnStorageErrors(t *testing.T) {
	s, root := newStore(t)
	ctx := context.Background()
	for _, n := range []string{"a", "lib/x/y/z", "z"} {
		pushImage(t, s, n, "v1", n)
	}
	for _, stray := range []string{"stray", "lib/x/stray"} {
		p := filepath.Join(root, "docker/registry/v2/repositories", stray)
		if err := os.WriteFile(p, []byte("not a directory"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, _, err := s.Catalog(ctx, "", -1)
	if err != nil || strings.Join(got, " ") != "a lib/x/y/z z" {
		t.Fatalf("Catalog with stray files = %q, %v; want a lib/x/y/z z", got, err)
	}

	fsd, err := NewFilesystemDriver(root)
	if err != nil {
		t.Fatal(err)
	}
	// Every call on the nested namespace fails as an S3 503 would: the
	// walk must not step over lib/x/y/z as if it were not there.
	for _, op := range []string{"List", "Stat"} {
		t.Run(op, func(t *testing.T) {
			fd := &faultDriver{Driver: fsd, ops: map[string]bool{op: true}, match: "repositories/lib", every: 1}
			for _, n := range []int{-1, 1, 2} {
				got, _, err := New(fd, Options{}).Catalog(ctx, "a", n)
				if fd.faults == 0 {
					t.Fatalf("n=%d: no %s under repositories/lib was asked (got %q, %v)", n, op, got, err)
				}
				if !errors.Is(err, errInjected) {
					t.Fatalf("n=%d: %s failing under repositories/lib, Catalog = %q, %v; want the injected error", n, op, got, err)
				}
			}
		})
	}
}
