package integration

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/wharf-registry/wharf/internal/testkit"
)

// stockStore is a storage directory written by a stock registry, as
// ../shared/interop/registry-*/manifest.json describes it: what the stock
// program answered through its HTTP API before it was stopped, and a listing
// of every file it left. The tests compare our answers with these, so every
// expectation comes from the recording, none from our own server.
type stockStore struct {
	Fixture string `json:"fixture"`
	Store   struct {
		File     string `json:"file"`
		SHA256   string `json:"sha256"`
		TopLevel string `json:"top_level_entry"`
	} `json:"store"`
	Catalog      []string                   `json:"catalog"`
	V2Headers    map[string]string          `json:"v2_response_headers"`
	Repositories map[string]stockRepository `json:"repositories"`
	Deleted      struct {
		Repository string `json:"repository"`
		Digest     string `json:"digest"`
		FormerTag  string `json:"former_tag"`
	} `json:"deleted"`
	Unreachable []string      `json:"blobs_in_store_not_reachable_from_tags"`
	Probes      []stockProbe  `json:"probes"`
	StoreFiles  []stockFile   `json:"store_files"`
	EmptyDirs   []string      `json:"store_empty_dirs"`
	Referrer    *stockReferer `json:"referrer"` // registry-v3.1.1 only

	dir string // the fixture's folder
}

// stockRepository is one repository of the recording.
type stockRepository struct {
	TagsListOrder []string                 `json:"tags_list_order"`
	Tags          map[string]string        `json:"tags"` // tag -> digest
	Manifests     map[string]stockManifest `json:"manifests"`
	Blobs         map[string]stockBlob     `json:"blobs"`
}

// stockManifest is a manifest as the stock registry served it, by tag and
// by digest, with an Accept header listing every manifest type.
type stockManifest struct {
	MediaType         string          `json:"mediaType"`
	ContentType       string          `json:"content_type"`
	Size              int64           `json:"size"`
	HeadStatus        int             `json:"head_status"`
	HeadContentLength int64           `json:"head_content_length"`
	Tags              []string        `json:"tags"`
	Children          []stockChild    `json:"children"`
	Body              json.RawMessage `json:"body"` // decoded and re-encoded: compare as JSON, bytes by digest
}

// stockChild is an entry of an index's manifests list.
type stockChild struct {
	Digest       string `json:"digest"`
	MediaType    string `json:"mediaType"`
	Size         int64  `json:"size"`
	ArtifactType string `json:"artifactType"`
}

// stockBlob is a config or layer blob of a repository.
type stockBlob struct {
	Size int64 `json:"size"`
}

// stockProbe is one recorded request beyond the read-back and its answer.
type stockProbe struct {
	Method        string          `json:"method"`
	Path          string          `json:"path"`
	Status        int             `json:"status"`
	Body          json.RawMessage `json:"body"`
	ContentLength *int64          `json:"content_length"`
}

// stockFile is one regular file of the store.
type stockFile struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
	Link string `json:"link"` // the content of a link file
}

// stockReferer is the oras artifact pushed to registry v3.1.1, which has no
// referrers API: oras fell back to the referrers tag schema, an OCI index
// tagged <alg>-<subject hex> listing the artifact.
type stockReferer struct {
	Subject       string `json:"subject"`
	Manifest      string `json:"referrer_manifest"`
	FallbackTag   string `json:"fallback_tag"`
	FallbackIndex string `json:"fallback_index"`
}

// loadStockStore reads interop/<fixture>/manifest.json and checks that
// store.tgz is the file it describes.
func loadStockStore(t *testing.T, fixture string) *stockStore {
	t.Helper()
	dir := filepath.Join(testkit.SharedDir(t), "interop", fixture)
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s stockStore
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("%s/manifest.json: %v", fixture, err)
	}
	s.dir = dir
	if s.Fixture != fixture || len(s.Repositories) == 0 || len(s.StoreFiles) == 0 || s.Deleted.Digest == "" {
		t.Fatalf("%s/manifest.json describes %q with %d repositories and %d files; not the recording expected",
			fixture, s.Fixture, len(s.Repositories), len(s.StoreFiles))
	}
	tgz, err := os.ReadFile(filepath.Join(dir, s.Store.File))
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(tgz); hex.EncodeToString(sum[:]) != s.Store.SHA256 {
		t.Fatalf("%s/%s has sha256 %x; manifest.json records %s", fixture, s.Store.File, sum, s.Store.SHA256)
	}
	return &s
}

// untar unpacks store.tgz into a fresh directory with extractStore and
// returns that directory.
func (s *stockStore) untar(t *testing.T) string {
	t.Helper()
	f, err := os.Open(filepath.Join(s.dir, s.Store.File))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	root := t.TempDir()
	if err := extractStore(f, s.Store.TopLevel, root); err != nil {
		t.Fatalf("unpacking %s/%s: %v", s.Fixture, s.Store.File, err)
	}
	return root
}

// storeListing is every regular file (path relative to the storage root,
// slash-separated: size and, for a link, its content) and every empty
// directory of a store, in manifest.json's form.
type storeListing struct {
	files     map[string]stockFile
	emptyDirs []string
}

// listStore walks root.
func listStore(t *testing.T, root string) storeListing {
	t.Helper()
	l := storeListing{files: map[string]stockFile{}}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			entries, err := os.ReadDir(p)
			if err != nil {
				return err
			}
			if len(entries) == 0 {
				l.emptyDirs = append(l.emptyDirs, rel)
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file", p)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		f := stockFile{Path: rel, Size: int64(len(data))}
		if d.Name() == "link" {
			f.Link = string(data)
		}
		l.files[rel] = f
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(l.emptyDirs)
	return l
}

// blobs is the set of digests whose data file the store holds.
func (l storeListing) blobs() map[string]bool {
	out := map[string]bool{}
	for p := range l.files {
		// docker/registry/v2/blobs/<alg>/<2 hex>/<hex>/data
		parts := strings.Split(p, "/")
		if len(parts) == 8 && parts[3] == "blobs" && parts[7] == "data" {
			out[parts[4]+":"+parts[6]] = true
		}
	}
	return out
}

// checkUntarred compares a freshly unpacked store with the listing in
// manifest.json: the same files with the same sizes and link contents, and
// the same empty directories.
func (s *stockStore) checkUntarred(c *checker, root string) {
	got := listStore(c.t, root)
	want := map[string]stockFile{}
	for _, f := range s.StoreFiles {
		want[f.Path] = f
	}
	c.equal("number of files in the unpacked store", len(got.files), len(want))
	for p, w := range want {
		c.equal("file "+p, got.files[p], w)
	}
	wantDirs := append([]string(nil), s.EmptyDirs...)
	sort.Strings(wantDirs)
	c.equal("empty directories of the unpacked store", got.emptyDirs, wantDirs)
}

// sortedSet returns the distinct elements of ss in order.
func sortedSet(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// jsonEqual reports whether a and b encode the same JSON value, whatever
// the key order and spacing.
func jsonEqual(a, b []byte) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	ca, _ := json.Marshal(va)
	cb, _ := json.Marshal(vb)
	return bytes.Equal(ca, cb)
}
