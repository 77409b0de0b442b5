package regserver

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/wharf-registry/wharf/pkg/manifest"
)

func TestManifestResponsesCarryTheirHeaders(t *testing.T) {
	tr := newRegistry(t, nil)
	body := tr.testImage(t, "app", "one")
	d := digest.FromBytes(body)
	resp, _ := tr.do(t, request{method: "PUT", path: "/v2/app/manifests/v1", body: body,
		header: map[string]string{"Content-Type": manifest.MediaTypeOCIManifest + "; charset=utf-8"}})
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Location") != "/v2/app/manifests/"+d.String() || resp.Header.Get("Docker-Content-Digest") != d.String() {
		t.Fatalf("PUT: %d %v", resp.StatusCode, resp.Header)
	}
	if resp.Header.Get("OCI-Subject") != "" {
		t.Errorf("OCI-Subject on a manifest without subject: %q", resp.Header.Get("OCI-Subject"))
	}
	for _, ref := range []string{"v1", d.String()} {
		for _, method := range []string{"GET", "HEAD"} {
			t.Run(method+" "+ref, func(t *testing.T) {
				resp, got := tr.do(t, request{method: method, path: "/v2/app/manifests/" + ref})
				if resp.StatusCode != 200 {
					t.Fatalf("status %d", resp.StatusCode)
				}
				for k, want := range map[string]string{
					"Content-Type": manifest.MediaTypeOCIManifest, "Docker-Content-Digest": d.String(),
					"Etag": `"` + d.String() + `"`, "Content-Length": strconv.Itoa(len(body)),
				} {
					if v := resp.Header.Get(k); v != want {
						t.Errorf("%s = %q, want %q", k, v, want)
					}
				}
				if method == "GET" && string(got) != string(body) {
					t.Error("body differs from what was pushed")
				}
			})
		}
	}
	t.Run("If-None-Match", func(t *testing.T) {
		resp, _ := tr.do(t, request{method: "GET", path: "/v2/app/manifests/v1", header: map[string]string{"If-None-Match": `"` + d.String() + `"`}})
		if resp.StatusCode != http.StatusNotModified {
			t.Errorf("status %d, want 304", resp.StatusCode)
		}
	})
}

func TestAcceptNegotiation(t *testing.T) {
	tr := newRegistry(t, nil)
	tr.pushManifest(t, "app", "oci", tr.testImage(t, "app", "one"))
	tests := []struct {
		accept string
		status int
	}{
		{"", 200},
		{"*/*", 200},
		{"application/json", 200},
		{manifest.MediaTypeOCIManifest, 200},
		{manifest.MediaTypeDockerSchema2 + ", " + manifest.MediaTypeOCIManifest + ";q=0.9", 200},
		{manifest.MediaTypeDockerSchema2 + ", application/*", 200},
		{manifest.MediaTypeDockerSchema2, 404},
		{manifest.MediaTypeDockerSchema2 + ", " + manifest.MediaTypeDockerSchema1Sig, 404},
		{manifest.MediaTypeOCIIndex, 404},
	}
	for _, tt := range tests {
		t.Run(tt.accept, func(t *testing.T) {
			resp, body := tr.do(t, request{method: "GET", path: "/v2/app/manifests/oci", header: map[string]string{"Accept": tt.accept}})
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
		})
	}
}

func TestDockerManifestTypesRoundTrip(t *testing.T) {
	tr := newRegistry(t, nil)
	config := []byte(`{"architecture":"amd64","os":"linux"}`)
	layer := []byte("docker layer")
	cd, ld := tr.pushBlob(t, "app", config), tr.pushBlob(t, "app", layer)
	schema2 := []byte(`{"schemaVersion":2,"mediaType":"` + manifest.MediaTypeDockerSchema2 + `","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":` +
		strconv.Itoa(len(config)) + `,"digest":"` + cd.String() + `"},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":` +
		strconv.Itoa(len(layer)) + `,"digest":"` + ld.String() + `"}]}`)
	sd := tr.pushManifest(t, "app", "amd64", schema2, map[string]string{"Content-Type": manifest.MediaTypeDockerSchema2})
	list := []byte(`{"schemaVersion":2,"mediaType":"` + manifest.MediaTypeDockerList + `","manifests":[{"mediaType":"` + manifest.MediaTypeDockerSchema2 +
		`","size":` + strconv.Itoa(len(schema2)) + `,"digest":"` + sd.String() + `","platform":{"architecture":"amd64","os":"linux"}}]}`)
	tr.pushManifest(t, "app", "latest", list, map[string]string{"Content-Type": manifest.MediaTypeDockerList})
	for tag, mt := range map[string]string{"amd64": manifest.MediaTypeDockerSchema2, "latest": manifest.MediaTypeDockerList} {
		resp, _ := tr.do(t, request{method: "HEAD", path: "/v2/app/manifests/" + tag,
			header: map[string]string{"Accept": manifest.MediaTypeDockerSchema2 + ", " + manifest.MediaTypeDockerList}})
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != mt {
			t.Errorf("%s: %d %q, want 200 %q", tag, resp.StatusCode, resp.Header.Get("Content-Type"), mt)
		}
	}
}

func TestDeletingATagKeepsTheManifest(t *testing.T) {
	tr := newRegistry(t, nil)
	body := tr.testImage(t, "app", "one")
	d := tr.pushManifest(t, "app", "v1", body)
	tr.pushManifest(t, "app", "v2", body)
	if resp, _ := tr.do(t, request{method: "DELETE", path: "/v2/app/manifests/v1"}); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE tag: %d", resp.StatusCode)
	}
	for ref, want := range map[string]int{"v1": 404, "v2": 200, d.String(): 200} {
		if resp, _ := tr.do(t, request{method: "HEAD", path: "/v2/app/manifests/" + ref}); resp.StatusCode != want {
			t.Errorf("after deleting tag v1, %s answers %d, want %d", ref, resp.StatusCode, want)
		}
	}
	if resp, _ := tr.do(t, request{method: "DELETE", path: "/v2/app/manifests/" + d.String()}); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE manifest: %d", resp.StatusCode)
	}
	if resp, _ := tr.do(t, request{method: "HEAD", path: "/v2/app/manifests/v2"}); resp.StatusCode != 404 {
		t.Errorf("tag v2 survives its manifest: %d", resp.StatusCode)
	}
	_, cat := tr.do(t, request{method: "GET", path: "/v2/_catalog"})
	if strings.Contains(string(cat), `"app"`) {
		t.Errorf("repository without manifests still in the catalog: %s", cat)
	}
}

func TestPutByDigestWithTagParameters(t *testing.T) {
	tr := newRegistry(t, nil)
	body := tr.testImage(t, "app", "one")
	d := digest.FromBytes(body)
	resp, b := tr.do(t, request{method: "PUT", path: "/v2/app/manifests/" + d.String() + "?tag=a&tag=b", body: body,
		header: map[string]string{"Content-Type": manifest.MediaTypeOCIManifest}})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %d %s", resp.StatusCode, b)
	}
	if got := resp.Header.Values("OCI-Tag"); strings.Join(got, ",") != "a,b" {
		t.Errorf("OCI-Tag = %q", got)
	}
	for _, tag := range []string{"a", "b"} {
		if resp, _ := tr.do(t, request{method: "HEAD", path: "/v2/app/manifests/" + tag}); resp.Header.Get("Docker-Content-Digest") != d.String() {
			t.Errorf("tag %s: %d %q", tag, resp.StatusCode, resp.Header.Get("Docker-Content-Digest"))
		}
	}
}

func TestListingsPaginateWithLinks(t *testing.T) {
	tr := newRegistry(t, nil)
	body := tr.testImage(t, "app", "one")
	for _, tag := range []string{"c", "a", "e", "b", "d"} {
		tr.pushManifest(t, "app", tag, body)
	}
	for _, repo := range []string{"z", "m/n"} {
		tr.pushManifest(t, repo, "v1", tr.testImage(t, repo, repo))
	}
	t.Run("tags", func(t *testing.T) {
		var seen []string
		path := "/v2/app/tags/list?n=2"
		for pages := 0; path != ""; pages++ {
			if pages > 5 {
				t.Fatal("pagination does not end")
			}
			resp, b := tr.do(t, request{method: "GET", path: path})
			var tl tagList
			if resp.StatusCode != 200 || json.Unmarshal(b, &tl) != nil || tl.Name != "app" {
				t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
			}
			seen = append(seen, tl.Tags...)
			path = nextPath(t, resp.Header.Get("Link"))
		}
		if strings.Join(seen, ",") != "a,b,c,d,e" {
			t.Errorf("tags %v", seen)
		}
	})
	t.Run("tags after last", func(t *testing.T) {
		_, b := tr.do(t, request{method: "GET", path: "/v2/app/tags/list?last=c"})
		if string(b) != `{"name":"app","tags":["d","e"]}`+"\n" {
			t.Errorf("got %s", b)
		}
	})
	t.Run("n=0 is an empty page", func(t *testing.T) {
		resp, b := tr.do(t, request{method: "GET", path: "/v2/app/tags/list?n=0"})
		if resp.StatusCode != 200 || string(b) != `{"name":"app","tags":[]}`+"\n" {
			t.Errorf("got %d %s", resp.StatusCode, b)
		}
	})
	t.Run("huge n is capped", func(t *testing.T) {
		resp, b := tr.do(t, request{method: "GET", path: "/v2/app/tags/list?n=99999999999999999999999"})
		if resp.StatusCode != 200 || !strings.Contains(string(b), `"e"`) {
			t.Errorf("got %d %s", resp.StatusCode, b)
		}
	})
	t.Run("catalog", func(t *testing.T) {
		resp, b := tr.do(t, request{method: "GET", path: "/v2/_catalog?n=2"})
		if string(b) != `{"repositories":["app","m/n"]}`+"\n" {
			t.Fatalf("got %s", b)
		}
		if link := resp.Header.Get("Link"); link != `</v2/_catalog?last=m%2Fn&n=2>; rel="next"` {
			t.Errorf("Link = %q", link)
		}
		_, b = tr.do(t, request{method: "GET", path: nextPath(t, resp.Header.Get("Link"))})
		if string(b) != `{"repositories":["z"]}`+"\n" {
			t.Errorf("second page %s", b)
		}
	})
}

// nextPath extracts the target of a Link rel="next" header, or "".
func nextPath(t *testing.T, link string) string {
	t.Helper()
	if link == "" {
		return ""
	}
	target, rel, ok := strings.Cut(link, ">; ")
	if !ok || rel != `rel="next"` || !strings.HasPrefix(target, "<") {
		t.Fatalf("malformed Link %q", link)
	}
	return target[1:]
}

func TestReferrersListsSubjectsArtifacts(t *testing.T) {
	tr := newRegistry(t, nil)
	subject := tr.testImage(t, "app", "subject")
	sd := tr.pushManifest(t, "app", "v1", subject)
	empty := tr.pushBlob(t, "app", []byte("{}"))
	artifact := func(artifactType, note string) []byte {
		return []byte(`{"schemaVersion":2,"mediaType":"` + manifest.MediaTypeOCIManifest + `","artifactType":"` + artifactType + `",` +
			`"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"` + empty.String() + `","size":2},"layers":[],` +
			`"subject":{"mediaType":"` + manifest.MediaTypeOCIManifest + `","digest":"` + sd.String() + `","size":` + strconv.Itoa(len(subject)) + `},` +
			`"annotations":{"note":"` + note + `"}}`)
	}
	sig, sbom := artifact("application/vnd.example.sig", "s"), artifact("application/vnd.example.sbom", "b")
	for _, a := range [][]byte{sig, sbom} {
		d := digest.FromBytes(a)
		resp, b := tr.do(t, request{method: "PUT", path: "/v2/app/manifests/" + d.String(), body: a,
			header: map[string]string{"Content-Type": manifest.MediaTypeOCIManifest}})
		if resp.StatusCode != http.StatusCreated || resp.Header.Get("OCI-Subject") != sd.String() {
			t.Fatalf("PUT artifact: %d %s, OCI-Subject %q", resp.StatusCode, b, resp.Header.Get("OCI-Subject"))
		}
	}
	tests := []struct {
		name, query string
		want        []digest.Digest
		filtered    bool
	}{
		{"all", "", []digest.Digest{digest.FromBytes(sig), digest.FromBytes(sbom)}, false},
		{"filtered", "?artifactType=application/vnd.example.sbom", []digest.Digest{digest.FromBytes(sbom)}, true},
		{"filtered to nothing", "?artifactType=application/vnd.none", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := tr.do(t, request{method: "GET", path: "/v2/app/referrers/" + sd.String() + tt.query})
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != manifest.MediaTypeOCIIndex {
				t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if got := resp.Header.Get("OCI-Filters-Applied") == "artifactType"; got != tt.filtered {
				t.Errorf("OCI-Filters-Applied = %q", resp.Header.Get("OCI-Filters-Applied"))
			}
			var idx ocispec.Index
			if err := json.Unmarshal(b, &idx); err != nil || idx.SchemaVersion != 2 || idx.MediaType != manifest.MediaTypeOCIIndex {
				t.Fatalf("not an OCI index: %s", b)
			}
			if !strings.Contains(string(b), `"manifests":[`) {
				t.Errorf("manifests is not a list: %s", b)
			}
			got := map[digest.Digest]bool{}
			for _, m := range idx.Manifests {
				got[m.Digest] = true
				if m.ArtifactType == "" || m.Annotations["note"] == "" {
					t.Errorf("descriptor lacks artifactType or annotations: %+v", m)
				}
			}
			if len(got) != len(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			for _, d := range tt.want {
				if !got[d] {
					t.Errorf("missing %s", d)
				}
			}
		})
	}
	t.Run("unknown repository and subject", func(t *testing.T) {
		resp, b := tr.do(t, request{method: "GET", path: "/v2/nosuch/referrers/" + digest.FromString("x").String()})
		if resp.StatusCode != 200 || !strings.Contains(string(b), `"manifests":[]`) {
			t.Errorf("got %d %s", resp.StatusCode, b)
		}
	})
}
