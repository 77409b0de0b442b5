package regserver

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/wharf-registry/wharf/pkg/manifest"
)

var nextLinkRE = regexp.MustCompile(`^<([^>]+)>; rel="next"$`)

// referrerPages follows the Link headers from first and returns each
// page's digests and artifact types.
func (tr *testRegistry) referrerPages(t *testing.T, first string) (pages [][]digest.Digest, types []string) {
	t.Helper()
	for target := first; target != ""; {
		resp, body := tr.do(t, request{method: "GET", path: target})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s %s", target, resp.Status, body)
		}
		var idx ocispec.Index
		if err := json.Unmarshal(body, &idx); err != nil {
			t.Fatal(err)
		}
		var page []digest.Digest
		for _, m := range idx.Manifests {
			page = append(page, m.Digest)
			types = append(types, m.ArtifactType)
		}
		pages = append(pages, page)
		target = ""
		if link := resp.Header.Get("Link"); link != "" {
			m := nextLinkRE.FindStringSubmatch(link)
			if m == nil {
				t.Fatalf("Link %q is not <url>; rel=\"next\"", link)
			}
			target = m[1]
		}
		if len(pages) > 100 {
			t.Fatal("more than 100 pages: the Links loop")
		}
	}
	return pages, types
}

// More referrers than fit a page: the pages, followed by their Link
// headers, are full but the last, disjoint, in digest order, and together
// exactly the referrers; the last page has no Link. The same with a filter,
// which the Links keep.
func TestReferrersArePaginated(t *testing.T) {
	tr := newRegistry(t, nil)
	subject := tr.testImage(t, "app", "subject")
	sd := tr.pushManifest(t, "app", "v1", subject)
	empty := tr.pushBlob(t, "app", []byte("{}"))
	const count = 2*maxReferrersPage + 37
	var all, sigs []digest.Digest
	for i := range count {
		artifactType := "application/vnd.example.sbom"
		if i%3 == 0 {
			artifactType = "application/vnd.example.sig"
		}
		body := []byte(`{"schemaVersion":2,"mediaType":"` + manifest.MediaTypeOCIManifest + `","artifactType":"` + artifactType + `",` +
			`"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"` + empty.String() + `","size":2},"layers":[],` +
			`"subject":{"mediaType":"` + manifest.MediaTypeOCIManifest + `","digest":"` + sd.String() + `","size":` + strconv.Itoa(len(subject)) + `},` +
			`"annotations":{"n":"` + strconv.Itoa(i) + `"}}`)
		d := tr.pushManifest(t, "app", digest.FromBytes(body).String(), body)
		all = append(all, d)
		if i%3 == 0 {
			sigs = append(sigs, d)
		}
	}
	slices.Sort(all)
	slices.Sort(sigs)
	base := "/v2/app/referrers/" + sd.String()
	tests := []struct {
		name, query string
		pageSize    int
		want        []digest.Digest
	}{
		{"default page", "", maxReferrersPage, all},
		{"n=7", "?n=7", 7, all},
		{"n above the cap", "?n=100000", maxReferrersPage, all},
		{"filtered, n=10", "?n=10&artifactType=application/vnd.example.sig", 10, sigs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pages, types := tr.referrerPages(t, base+tt.query)
			var got []digest.Digest
			for i, p := range pages {
				if len(p) > tt.pageSize {
					t.Errorf("page %d holds %d descriptors, page size %d", i, len(p), tt.pageSize)
				}
				got = append(got, p...)
			}
			if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
				t.Errorf("pages overlap or are out of digest order")
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("the pages hold %d referrers, want %d", len(got), len(tt.want))
			}
			if strings.Contains(tt.query, "artifactType") && slices.ContainsFunc(types, func(s string) bool { return s != "application/vnd.example.sig" }) {
				t.Errorf("a filtered page holds another artifact type")
			}
			if tt.name != "filtered, n=10" {
				want := (len(tt.want) + tt.pageSize - 1) / tt.pageSize
				if len(pages) != want {
					t.Errorf("%d pages, want %d full pages and a partial last", len(pages), want)
				}
			}
		})
	}
	t.Run("bad last", func(t *testing.T) {
		resp, body := tr.do(t, request{method: "GET", path: base + "?last=nope"})
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("%s %s", resp.Status, body)
		}
	})
	t.Logf("%d referrers, pages of %d", count, maxReferrersPage)
}
