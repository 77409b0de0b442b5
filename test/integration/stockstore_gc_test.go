package integration

import (
	"fmt"
	"maps"
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/wharf-registry/wharf/internal/testkit"
)

// TestStockStoreWrittenAndCollectedByUsIsServedByStockRegistry3 takes each
// stock store, pushes to it and deletes a recorded tag with our registry,
// runs our `registry garbage-collect --delete-untagged` with no grace
// period, and serves the result with the stock registry:3: every recorded
// manifest and blob still reachable, the new content, the deleted tag gone,
// and exactly the unreachable blobs removed.
func TestStockStoreWrittenAndCollectedByUsIsServedByStockRegistry3(t *testing.T) {
	t.Parallel()
	stock := testkit.StockRegistryBinary(t, testkit.StockRegistryV3)
	for _, fixture := range stockStores {
		t.Run(fixture, func(t *testing.T) {
			t.Parallel()
			s := loadStockStore(t, fixture)
			root := s.untar(t)
			var w ourWrites
			t.Run("our registry pushes and deletes a tag", func(t *testing.T) {
				reg := startRegistryAt(t, root, "")
				w = writeToStockStore(t, reg.Host(), s)
			})
			if t.Failed() {
				t.FailNow()
			}

			before := listStore(t, root).blobs()
			manifests, blobs := collectGarbage(t, root)
			listing := listStore(t, root)
			after := listing.blobs()
			c := &checker{t: t}
			// What GC must remove: the blobs manifest.json lists as
			// unreachable from every tag, and the image whose only tag we
			// deleted. Everything else is still referenced.
			removed := map[string]bool{}
			for _, d := range s.Unreachable {
				removed[d] = true
			}
			for _, d := range w.untagged {
				removed[d] = true
			}
			for d := range removed {
				c.equal("blob "+d+" in the store before gc", before[d], true)
			}
			want := maps.Clone(before)
			maps.DeleteFunc(want, func(d string, _ bool) bool { return removed[d] })
			c.equal("blobs after gc", slices.Sorted(maps.Keys(after)), slices.Sorted(maps.Keys(want)))
			// No link is left naming a blob gc removed (registry:3 would
			// list a tag or repository whose content is gone).
			for _, p := range slices.Sorted(maps.Keys(listing.files)) {
				if l := listing.files[p].Link; l != "" {
					c.equal("blob data of link "+p, after[l], true)
				}
			}
			c.equal("manifests gc reports deleted", manifests, 1)
			c.equal("blobs gc reports deleted", blobs, len(removed))
			t.Logf("%s: %d blobs before gc, %d after; gc deleted %d manifests and %d blobs", fixture, len(before), len(after), manifests, blobs)

			reg := startStockRegistry(t, stock, root)
			compareStore(c, reg.URL("http"), s.viewAfter(w, removed))
			c.sameContent(reg.Host(), w)
			t.Logf("%s after our writes and gc, served by registry:3 %s: %d comparisons", fixture, testkit.StockRegistryV3.Version, c.n)
		})
	}
}

// ourWrites is what writeToStockStore did to a stock store.
type ourWrites struct {
	repo, deletedTag string // a recorded tag, deleted; its manifest keeps another tag
	image            string // tag in repo of a new image
	imageDigest      v1.Hash
	indexRepo        string // new repository holding a new index tagged "1"
	indexDigest      v1.Hash
	untaggedTag      string   // tag of an image pushed to repo and deleted again
	untagged         []string // that image's manifest, config and layer digests
}

// writeToStockStore pushes an image into a recorded repository, an index
// into a new one, and an image whose tag it deletes again, all with
// go-containerregistry, then deletes a recorded tag whose manifest keeps
// another tag (the first such, in order, of manifest.json).
func writeToStockStore(t *testing.T, host string, s *stockStore) ourWrites {
	t.Helper()
	w := ourWrites{image: "wharf-new", indexRepo: "wharf/new-index", untaggedTag: "wharf-scratch"}
	for _, name := range slices.Sorted(maps.Keys(s.Repositories)) {
		r := s.Repositories[name]
		for _, tag := range slices.Sorted(maps.Keys(r.Tags)) {
			if w.repo == "" && len(r.Manifests[r.Tags[tag]].Tags) > 1 {
				w.repo, w.deletedTag = name, tag
			}
		}
	}
	if w.repo == "" {
		t.Fatalf("%s: no manifest with two tags to delete one of", s.Fixture)
	}
	opts := newClient(t, account{}, nil).opts
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref(t, host+"/"+w.repo+":"+w.image), img, opts...); err != nil {
		t.Fatalf("pushing %s:%s: %v", w.repo, w.image, err)
	}
	if w.imageDigest, err = img.Digest(); err != nil {
		t.Fatal(err)
	}
	idx, err := random.Index(512, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref(t, host+"/"+w.indexRepo+":1"), idx, opts...); err != nil {
		t.Fatalf("pushing %s:1: %v", w.indexRepo, err)
	}
	if w.indexDigest, err = idx.Digest(); err != nil {
		t.Fatal(err)
	}
	scratch, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref(t, host+"/"+w.repo+":"+w.untaggedTag), scratch, opts...); err != nil {
		t.Fatalf("pushing %s:%s: %v", w.repo, w.untaggedTag, err)
	}
	w.untagged = imageDigests(t, scratch)
	for _, tag := range []string{w.untaggedTag, w.deletedTag} {
		resp, body := fetch(t, http.MethodDelete, "http://"+host+"/v2/"+w.repo+"/manifests/"+tag, "")
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("DELETE %s:%s: %s %s", w.repo, tag, resp.Status, body)
		}
	}
	return w
}

// imageDigests lists an image's manifest, config and layer digests.
func imageDigests(t *testing.T, img v1.Image) []string {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	out := []string{d.String(), m.Config.Digest.String()}
	for _, l := range m.Layers {
		out = append(out, l.Digest.String())
	}
	return out
}

// gcSummary is the last line `registry garbage-collect` prints.
var gcSummary = regexp.MustCompile(`(?m)^deleted (\d+) manifests and (\d+) blobs, \d+ bytes$`)

// collectGarbage runs our `registry garbage-collect --delete-untagged` on
// root with a grace period of 1ns, so that everything already written
// counts as old, and returns the counts it reports.
func collectGarbage(t *testing.T, root string) (manifests, blobs int) {
	t.Helper()
	// The port is never used: garbage-collect serves nothing.
	cfg := testkit.WriteFile(t, t.TempDir(), "config.yml", []byte(registryConfig(root, 0, "")))
	cmd := exec.Command(registryBin, "garbage-collect", "--delete-untagged", "--grace-period", "1ns", cfg)
	cmd.Env = []string{}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("registry garbage-collect: %v\n%s", err, out)
	}
	m := gcSummary.FindSubmatch(out)
	if m == nil {
		t.Fatalf("registry garbage-collect printed no summary:\n%s", out)
	}
	manifests, _ = strconv.Atoi(string(m[1]))
	blobs, _ = strconv.Atoi(string(m[2]))
	t.Logf("registry garbage-collect:\n%s", testkit.Tail(string(out), 30))
	return manifests, blobs
}

// startStockRegistry serves root with the stock registry:3 binary: config
// in a temporary directory, 127.0.0.1, deletes enabled, no debug listener
// (there is none without http.debug.addr), no tracing exporter.
func startStockRegistry(t *testing.T, bin, root string) *process {
	t.Helper()
	dir := t.TempDir()
	return testkit.Start(t, testkit.Spec{
		Name: "registry " + testkit.StockRegistryV3.Version,
		Bin:  bin,
		Args: func(port int) []string {
			return []string{"serve", testkit.WriteFile(t, dir, "config.yml", []byte(registryConfig(root, port, "")))}
		},
		Env: func(int) []string { return []string{"OTEL_TRACES_EXPORTER=none"} },
		// registry:3 has no /healthz: its 404 means it is up.
		AnyStatus: true,
	})
}

// viewAfter is what a registry must answer for the store once w was done
// and the blobs in removed were collected: the recorded answers without
// w's deleted tag, with the collected blobs gone, and w's new repository
// and tags listed.
func (s *stockStore) viewAfter(w ourWrites, removed map[string]bool) storeView {
	v := s.recordedView(func(stockProbe) bool { return true })
	delete(v.repos[w.repo].Tags, w.deletedTag)
	v.tagLists[w.repo] = sortedSet(append(slices.DeleteFunc(v.tagLists[w.repo], func(tag string) bool { return tag == w.deletedTag }), w.image))
	v.tagLists[w.indexRepo] = []string{"1"}
	v.catalog = sortedSet(append(slices.Clone(v.catalog), w.indexRepo))
	blobUnknown := []byte(`{"errors":[{"code":"BLOB_UNKNOWN"}]}`)
	manifestUnknown := []byte(`{"errors":[{"code":"MANIFEST_UNKNOWN"}]}`)
	for i, p := range v.probes {
		if d, ok := strings.CutPrefix(p.Path, "/v2/"+w.repo+"/blobs/"); ok && removed[d] {
			v.probes[i] = stockProbe{Method: p.Method, Path: p.Path, Status: http.StatusNotFound}
		}
	}
	for _, d := range slices.Sorted(maps.Keys(removed)) {
		v.probes = append(v.probes, stockProbe{Method: http.MethodGet, Path: "/v2/" + w.repo + "/blobs/" + d, Status: http.StatusNotFound, Body: blobUnknown})
	}
	for _, ref := range []string{w.deletedTag, w.untaggedTag, w.untagged[0]} {
		v.probes = append(v.probes, stockProbe{Method: http.MethodGet, Path: "/v2/" + w.repo + "/manifests/" + ref, Status: http.StatusNotFound, Body: manifestUnknown})
	}
	return v
}

// sameContent pulls w's new image and index from host with
// go-containerregistry and checks their digests and the bytes of every
// manifest, config and layer.
func (c *checker) sameContent(host string, w ourWrites) {
	c.t.Helper()
	opts := newClient(c.t, account{}, nil).opts
	img, err := remote.Image(ref(c.t, host+"/"+w.repo+":"+w.image), opts...)
	if err != nil {
		c.t.Fatalf("pulling %s:%s: %v", w.repo, w.image, err)
	}
	c.sameImage(w.repo+":"+w.image, img, w.imageDigest)
	idx, err := remote.Index(ref(c.t, host+"/"+w.indexRepo+":1"), opts...)
	if err != nil {
		c.t.Fatalf("pulling %s:1: %v", w.indexRepo, err)
	}
	raw, err := idx.RawManifest()
	if err != nil {
		c.t.Fatal(err)
	}
	c.equal("digest of "+w.indexRepo+":1", sha256Digest(raw), w.indexDigest.String())
	im, err := idx.IndexManifest()
	if err != nil {
		c.t.Fatal(err)
	}
	c.equal("children of "+w.indexRepo+":1", len(im.Manifests), 2)
	for _, child := range im.Manifests {
		img, err := idx.Image(child.Digest)
		if err != nil {
			c.t.Fatalf("pulling %s@%s: %v", w.indexRepo, child.Digest, err)
		}
		c.sameImage(w.indexRepo+"@"+child.Digest.String(), img, child.Digest)
	}
}

// sameImage reads every byte of img and compares the digests.
func (c *checker) sameImage(what string, img v1.Image, want v1.Hash) {
	c.t.Helper()
	raw, err := img.RawManifest()
	if err != nil {
		c.t.Fatalf("%s: %v", what, err)
	}
	c.equal("digest of "+what, sha256Digest(raw), want.String())
	m, err := img.Manifest()
	if err != nil {
		c.t.Fatalf("%s: %v", what, err)
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		c.t.Fatalf("%s config: %v", what, err)
	}
	c.equal("config of "+what, sha256Digest(cfg), m.Config.Digest.String())
	layers, err := img.Layers()
	if err != nil {
		c.t.Fatalf("%s layers: %v", what, err)
	}
	c.equal("layers of "+what, len(layers), len(m.Layers))
	for i, l := range layers {
		data := layerBytes(c.t, l)
		c.equal(fmt.Sprintf("layer %d of %s", i, what), sha256Digest(data), m.Layers[i].Digest.String())
		c.equal(fmt.Sprintf("size of layer %d of %s", i, what), int64(len(data)), m.Layers[i].Size)
	}
}
