package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// acceptManifests is the Accept header of the recorded read-back: every
// OCI and Docker manifest and index type (registry:3 refuses an OCI
// manifest to a client that does not list it).
const acceptManifests = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, " +
	"application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json"

// checker counts comparisons and reports every mismatch, so one broken
// answer does not hide the others.
type checker struct {
	t *testing.T
	n int
}

// equal compares got with want (reflect.DeepEqual).
func (c *checker) equal(what string, got, want any) {
	c.t.Helper()
	c.n++
	if !reflect.DeepEqual(got, want) {
		c.t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

// storeView is what a server serving a store must answer: the recorded
// read-back, possibly changed by what a test did to the store since.
type storeView struct {
	apiVersion string // Docker-Distribution-API-Version of GET /v2/
	catalog    []string
	// tagLists is the set of tags each repository's tags/list must hold.
	tagLists map[string][]string
	// repos holds the recorded manifests and blobs to compare, and the
	// tags whose manifests are compared by tag.
	repos  map[string]stockRepository
	probes []stockProbe
}

// recordedView is the read-back of s as recorded, with the probes that
// match pick.
func (s *stockStore) recordedView(pick func(stockProbe) bool) storeView {
	v := storeView{
		apiVersion: s.V2Headers["docker-distribution-api-version"],
		catalog:    s.Catalog, tagLists: map[string][]string{}, repos: map[string]stockRepository{}}
	for name, r := range s.Repositories {
		r.Tags = maps.Clone(r.Tags)
		v.repos[name] = r
		v.tagLists[name] = sortedSet(slices.Collect(maps.Keys(r.Tags)))
	}
	for _, p := range s.Probes {
		if pick(p) {
			v.probes = append(v.probes, p)
		}
	}
	return v
}

// isReferrersProbe tells the recorded GET of the referrers API, which the
// stock registries do not implement and we do.
func isReferrersProbe(p stockProbe) bool { return strings.Contains(p.Path, "/referrers/") }

// compareStore checks everything v says against the server at base
// ("http://host:port").
func compareStore(c *checker, base string, v storeView) {
	c.t.Helper()
	resp, _ := fetch(c.t, http.MethodGet, base+"/v2/", "")
	c.equal("GET /v2/ status", resp.StatusCode, http.StatusOK)
	c.equal("GET /v2/ Docker-Distribution-API-Version", resp.Header.Get("Docker-Distribution-API-Version"), v.apiVersion)

	resp, body := fetch(c.t, http.MethodGet, base+"/v2/_catalog", "")
	var catalog struct {
		Repositories []string `json:"repositories"`
	}
	decodeJSON(c.t, body, &catalog)
	c.equal("catalog status", resp.StatusCode, http.StatusOK)
	c.equal("catalog", catalog.Repositories, v.catalog)

	for _, name := range slices.Sorted(maps.Keys(v.tagLists)) {
		resp, body := fetch(c.t, http.MethodGet, base+"/v2/"+name+"/tags/list", "")
		var list struct {
			Name string   `json:"name"`
			Tags []string `json:"tags"`
		}
		decodeJSON(c.t, body, &list)
		c.equal(name+" tags/list status", resp.StatusCode, http.StatusOK)
		c.equal(name+" tags/list name", list.Name, name)
		// A set: registry v2.8.3 does not sort, and a tag listed twice is
		// a fault.
		c.equal(name+" tags/list", sortedSet(list.Tags), v.tagLists[name])
		c.equal(name+" tags/list length", len(list.Tags), len(v.tagLists[name]))
	}

	for _, name := range slices.Sorted(maps.Keys(v.repos)) {
		r := v.repos[name]
		for _, tag := range slices.Sorted(maps.Keys(r.Tags)) {
			d := r.Tags[tag]
			compareManifest(c, base, name, tag, d, r.Manifests[d])
		}
		for _, d := range slices.Sorted(maps.Keys(r.Manifests)) {
			compareManifest(c, base, name, d, d, r.Manifests[d])
		}
		for _, d := range slices.Sorted(maps.Keys(r.Blobs)) {
			compareBlob(c, base, name, d, r.Blobs[d].Size)
		}
	}
	for _, p := range v.probes {
		compareProbe(c, base, p)
	}
}

// compareManifest fetches repo's manifest ref (a tag or digest d) with GET
// and HEAD and compares status, Docker-Content-Digest, Content-Type,
// Content-Length and the body (its bytes through their digest, its content
// as JSON) with the recording.
func compareManifest(c *checker, base, repo, ref, d string, want stockManifest) {
	c.t.Helper()
	what := repo + ":" + ref
	if strings.Contains(ref, ":") {
		what = repo + "@" + ref
	}
	url := base + "/v2/" + repo + "/manifests/" + ref
	resp, body := fetch(c.t, http.MethodGet, url, acceptManifests)
	c.equal("GET "+what+" status", resp.StatusCode, want.HeadStatus)
	c.equal("GET "+what+" Docker-Content-Digest", resp.Header.Get("Docker-Content-Digest"), d)
	c.equal("GET "+what+" Content-Type", resp.Header.Get("Content-Type"), want.ContentType)
	c.equal("GET "+what+" Content-Length", resp.Header.Get("Content-Length"), strconv.FormatInt(want.Size, 10))
	c.equal("GET "+what+" body size", int64(len(body)), want.Size)
	c.equal("GET "+what+" body digest", sha256Digest(body), d)
	c.n++
	if !jsonEqual(body, want.Body) {
		c.t.Errorf("GET %s body:\n%s\nwant the JSON of\n%s", what, body, want.Body)
	}
	resp, body = fetch(c.t, http.MethodHead, url, acceptManifests)
	c.equal("HEAD "+what+" status", resp.StatusCode, want.HeadStatus)
	c.equal("HEAD "+what+" Docker-Content-Digest", resp.Header.Get("Docker-Content-Digest"), d)
	c.equal("HEAD "+what+" Content-Type", resp.Header.Get("Content-Type"), want.ContentType)
	c.equal("HEAD "+what+" Content-Length", resp.Header.Get("Content-Length"), strconv.FormatInt(want.HeadContentLength, 10))
	c.equal("HEAD "+what+" body", len(body), 0)
}

// compareBlob fetches a blob of repo with HEAD and GET and compares its
// size and digest, and the digest of the bytes received.
func compareBlob(c *checker, base, repo, d string, size int64) {
	c.t.Helper()
	what := repo + "@" + d
	url := base + "/v2/" + repo + "/blobs/" + d
	resp, _ := fetch(c.t, http.MethodHead, url, "")
	c.equal("HEAD blob "+what+" status", resp.StatusCode, http.StatusOK)
	c.equal("HEAD blob "+what+" Content-Length", resp.Header.Get("Content-Length"), strconv.FormatInt(size, 10))
	c.equal("HEAD blob "+what+" Docker-Content-Digest", resp.Header.Get("Docker-Content-Digest"), d)
	resp, body := fetch(c.t, http.MethodGet, url, "")
	c.equal("GET blob "+what+" status", resp.StatusCode, http.StatusOK)
	c.equal("GET blob "+what+" size", int64(len(body)), size)
	c.equal("GET blob "+what+" digest of the bytes", sha256Digest(body), d)
}

// compareProbe replays a recorded request: the status, the Content-Length
// when recorded, the OCI error codes of a JSON error body, or a text body
// byte for byte.
func compareProbe(c *checker, base string, p stockProbe) {
	c.t.Helper()
	what := p.Method + " " + p.Path
	resp, body := fetch(c.t, p.Method, base+p.Path, acceptManifests)
	c.equal(what+" status", resp.StatusCode, p.Status)
	if p.ContentLength != nil {
		c.equal(what+" Content-Length", resp.Header.Get("Content-Length"), strconv.FormatInt(*p.ContentLength, 10))
	}
	if len(p.Body) == 0 {
		return
	}
	var text string
	if json.Unmarshal(p.Body, &text) == nil {
		c.equal(what+" body", string(body), text)
		return
	}
	c.equal(what+" error codes", errorCodes(body), errorCodes(p.Body))
}

// errorCodes lists the codes of an OCI error body ("not an error body"
// when it is none, so that such a body never matches a real one).
func errorCodes(body []byte) []string {
	var doc struct {
		Errors []struct {
			Code string `json:"code"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || len(doc.Errors) == 0 {
		return []string{fmt.Sprintf("not an error body: %.80q", body)}
	}
	var codes []string
	for _, e := range doc.Errors {
		codes = append(codes, e.Code)
	}
	return codes
}

// fetch sends one request with accept as its Accept header (none when
// empty) and returns the answer with its whole body.
func fetch(t *testing.T, method, url, accept string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp, body
}

// sha256Digest is "sha256:<hex>" of data.
func sha256Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}
