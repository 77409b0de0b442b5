package integration

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// The storage directories the stock registries wrote
// (../shared/interop/registry-*/store.tgz), served as they are.
var stockStores = []string{"registry-v2.8.3", "registry-v3.1.1"}

// TestServesStockRegistryStoresAsTheyAre unpacks each stock store, serves it
// with our registry and compares every answer with what the stock registry
// answered before it was stopped (manifest.json): catalog, tags, every
// manifest by tag and by digest, every blob, the deleted manifest, and the
// referrers API the stock registries lack.
func TestServesStockRegistryStoresAsTheyAre(t *testing.T) {
	t.Parallel()
	for _, fixture := range stockStores {
		t.Run(fixture, func(t *testing.T) {
			t.Parallel()
			s := loadStockStore(t, fixture)
			root := s.untar(t)
			c := &checker{t: t}
			s.checkUntarred(c, root)
			reg := startRegistryAt(t, root, "")
			base := reg.URL("http")
			compareStore(c, base, s.recordedView(func(p stockProbe) bool { return !isReferrersProbe(p) }))
			compareOurReferrers(c, base, s)
			// Reading must not have changed a file.
			s.checkUntarred(c, root)
			t.Logf("%s served by our registry: %d comparisons with manifest.json", fixture, c.n)
		})
	}
}

// compareOurReferrers checks our answer to the recorded referrers probe.
// The stock registries have no referrers API (404); ours lists, for a
// subject, the manifests pushed with that subject and those the referrers
// tag schema index (<alg>-<hex>, written by clients such as oras for a
// registry without the API) lists, so an artifact attached through
// registry:3 stays discoverable once we serve its store. Clients that see
// our 200 never look at the fallback tag.
func compareOurReferrers(c *checker, base string, s *stockStore) {
	c.t.Helper()
	for _, p := range s.Probes {
		if !isReferrersProbe(p) {
			continue
		}
		repo, subject, ok := strings.Cut(strings.TrimPrefix(p.Path, "/v2/"), "/referrers/")
		if !ok {
			c.t.Fatalf("probe path %s: not a referrers path", p.Path)
		}
		want := []stockChild{}
		if r := s.Referrer; r != nil && r.Subject == subject {
			want = s.Repositories[repo].Manifests[r.FallbackIndex].Children
		}
		compareReferrers(c, base, repo, subject, "", want)
		for _, artifactType := range sortedSet(childArtifactTypes(want)) {
			compareReferrers(c, base, repo, subject, artifactType, want)
		}
		compareReferrers(c, base, repo, subject, "application/vnd.wharf.test.none", []stockChild{})
		discoverReferrers(c, strings.TrimPrefix(base, "http://"), repo, subject, want)
	}
}

// discoverReferrers asks as go-containerregistry does, with its tag schema
// fallback off so that only the referrers API can answer: what oras and
// cosign users see.
func discoverReferrers(c *checker, host, repo, subject string, want []stockChild) {
	c.t.Helper()
	d, err := v1.NewHash(subject)
	if err != nil {
		c.t.Fatal(err)
	}
	opts := newClient(c.t, account{}, nil).with(remote.WithReferrersTagFallback(false))
	idx, err := remote.Referrers(digestRef(c.t, host, repo, d), opts...)
	if err != nil {
		c.t.Fatalf("go-containerregistry referrers of %s@%s: %v", repo, subject, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		c.t.Fatal(err)
	}
	got, wantDigests := []string{}, []string{}
	for _, desc := range m.Manifests {
		got = append(got, desc.Digest.String())
	}
	for _, ch := range want {
		wantDigests = append(wantDigests, ch.Digest)
	}
	c.equal("referrers of "+repo+"@"+subject+" found by go-containerregistry", got, wantDigests)
}

// compareReferrers asks for subject's referrers (filtered by artifactType
// when set) and compares them with the entries of want that pass the filter.
func compareReferrers(c *checker, base, repo, subject, artifactType string, want []stockChild) {
	c.t.Helper()
	url := base + "/v2/" + repo + "/referrers/" + subject
	what := "referrers of " + repo + "@" + subject
	if artifactType != "" {
		url += "?artifactType=" + artifactType
		what += " with artifactType " + artifactType
	}
	resp, body := fetch(c.t, http.MethodGet, url, "")
	c.equal(what+" status", resp.StatusCode, http.StatusOK)
	c.equal(what+" Content-Type", resp.Header.Get("Content-Type"), "application/vnd.oci.image.index.v1+json")
	if artifactType != "" {
		c.equal(what+" OCI-Filters-Applied", resp.Header.Get("OCI-Filters-Applied"), "artifactType")
	}
	var index struct {
		SchemaVersion int          `json:"schemaVersion"`
		MediaType     string       `json:"mediaType"`
		Manifests     []stockChild `json:"manifests"`
	}
	if err := json.Unmarshal(body, &index); err != nil {
		c.t.Fatalf("%s: %v\n%s", what, err, body)
	}
	filtered := []stockChild{}
	for _, ch := range want {
		if artifactType == "" || ch.ArtifactType == artifactType {
			filtered = append(filtered, ch)
		}
	}
	c.equal(what+" schemaVersion", index.SchemaVersion, 2)
	c.equal(what+" mediaType", index.MediaType, "application/vnd.oci.image.index.v1+json")
	c.equal(what, index.Manifests, filtered)
}

func childArtifactTypes(cs []stockChild) []string {
	var out []string
	for _, ch := range cs {
		out = append(out, ch.ArtifactType)
	}
	return out
}
