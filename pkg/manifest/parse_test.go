package manifest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

var (
	dConfig  = "sha256:" + strings.Repeat("a", 64)
	dLayer   = "sha256:" + strings.Repeat("b", 64)
	dChild   = "sha256:" + strings.Repeat("c", 64)
	dForeign = "sha256:" + strings.Repeat("d", 64)
	dBig     = "sha512:" + strings.Repeat("e", 128)
)

func image(mediaType, configType string) string {
	mt := ""
	if mediaType != "" {
		mt = `"mediaType":"` + mediaType + `",`
	}
	return `{"schemaVersion":2,` + mt + `
	  "config":{"mediaType":"` + configType + `","digest":"` + dConfig + `","size":7},
	  "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"` + dLayer + `","size":100}],
	  "annotations":{"k":"v"}, "x-extension": {"ignored": true}}`
}

func index(mediaType string) string {
	mt := ""
	if mediaType != "" {
		mt = `"mediaType":"` + mediaType + `",`
	}
	return `{"schemaVersion":2,` + mt + `"manifests":[{"mediaType":"` + MediaTypeOCIManifest + `","digest":"` + dChild + `","size":500,"platform":{"architecture":"amd64","os":"linux"}}]}`
}

func TestParseAcceptsEachSupportedFormat(t *testing.T) {
	tests := []struct {
		name, contentType, body, wantType string
		wantIndex                         bool
	}{
		{"docker schema2", MediaTypeDockerSchema2, image(MediaTypeDockerSchema2, "application/vnd.docker.container.image.v1+json"), MediaTypeDockerSchema2, false},
		{"docker manifest list", MediaTypeDockerList, index(MediaTypeDockerList), MediaTypeDockerList, true},
		{"oci manifest", MediaTypeOCIManifest, image(MediaTypeOCIManifest, "application/vnd.oci.image.config.v1+json"), MediaTypeOCIManifest, false},
		{"oci index", MediaTypeOCIIndex, index(MediaTypeOCIIndex), MediaTypeOCIIndex, true},
		{"oci manifest without mediaType member", MediaTypeOCIManifest, image("", "application/vnd.oci.image.config.v1+json"), MediaTypeOCIManifest, false},
		{"content type with parameters", MediaTypeOCIIndex + "; charset=utf-8", index(MediaTypeOCIIndex), MediaTypeOCIIndex, true},
		{"no content type: body mediaType decides", "", image(MediaTypeDockerSchema2, "x"), MediaTypeDockerSchema2, false},
		{"nothing declared: manifests make an index", "", index(""), MediaTypeOCIIndex, true},
		{"nothing declared: config makes an image", "", image("", "x"), MediaTypeOCIManifest, false},
		{"generic json content type counts as absent", "application/json", index(""), MediaTypeOCIIndex, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse(tt.contentType, []byte(tt.body))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if m.MediaType != tt.wantType {
				t.Errorf("MediaType = %q, want %q", m.MediaType, tt.wantType)
			}
			if IsIndex(m.MediaType) != tt.wantIndex {
				t.Errorf("IsIndex(%q) = %v", m.MediaType, !tt.wantIndex)
			}
			if tt.wantIndex {
				if len(m.Manifests) != 1 || string(m.Manifests[0].Digest) != dChild || m.Manifests[0].Platform == nil {
					t.Errorf("Manifests = %+v", m.Manifests)
				}
				if len(m.Blobs()) != 0 {
					t.Errorf("an index needs no blobs, got %v", m.Blobs())
				}
			} else {
				if m.Config == nil || string(m.Config.Digest) != dConfig || len(m.Layers) != 1 || m.Annotations["k"] != "v" {
					t.Errorf("parsed %+v", m)
				}
			}
		})
	}
}

func TestParseRejectsInvalidDocuments(t *testing.T) {
	mixed := `{"schemaVersion":2,"mediaType":"` + MediaTypeOCIManifest + `","config":{"mediaType":"x","digest":"` + dConfig + `","size":1},"layers":[],"manifests":[]}`
	mixedUndeclared := `{"schemaVersion":2,"config":{"mediaType":"x","digest":"` + dConfig + `","size":1},"manifests":[]}`
	badDigest := strings.Replace(image(MediaTypeOCIManifest, "x"), dLayer, "sha256:"+strings.Repeat("B", 64), 1)
	shortDigest := strings.Replace(image(MediaTypeOCIManifest, "x"), dLayer, "sha256:abc", 1)
	negative := strings.Replace(image(MediaTypeOCIManifest, "x"), `"size":100`, `"size":-1`, 1)
	stringSize := strings.Replace(image(MediaTypeOCIManifest, "x"), `"size":100`, `"size":"100"`, 1)
	badSubject := strings.Replace(image(MediaTypeOCIManifest, "x"), `"annotations"`, `"subject":{"mediaType":"x","digest":"md5:00","size":1},"annotations"`, 1)
	tests := []struct {
		name, contentType, body string
		want                    error
	}{
		{"schema1 by content type", MediaTypeDockerSchema1Sig, `{"schemaVersion":1}`, ErrSchema1},
		{"schema1 by body", "", `{"schemaVersion":1,"name":"a","tag":"b","fsLayers":[{"blobSum":"` + dLayer + `"}]}`, ErrSchema1},
		{"schema1 unsigned content type", MediaTypeDockerSchema1, image("", "x"), ErrSchema1},
		{"mediaType contradicts content type", MediaTypeDockerSchema2, image(MediaTypeOCIManifest, "x"), ErrInvalid},
		{"index body under manifest content type", MediaTypeOCIManifest, index(""), ErrInvalid},
		{"image body under index content type", MediaTypeOCIIndex, image("", "x"), ErrInvalid},
		{"manifests mixed with config and layers", "", mixed, ErrInvalid},
		{"manifests mixed with config, undeclared", MediaTypeOCIIndex, mixedUndeclared, ErrInvalid},
		{"uppercase descriptor digest", MediaTypeOCIManifest, badDigest, ErrInvalid},
		{"short descriptor digest", MediaTypeOCIManifest, shortDigest, ErrInvalid},
		{"negative size", MediaTypeOCIManifest, negative, ErrInvalid},
		{"size of the wrong type", MediaTypeOCIManifest, stringSize, ErrInvalid},
		{"bad subject digest", MediaTypeOCIManifest, badSubject, ErrInvalid},
		{"schemaVersion 3", "", `{"schemaVersion":3,"manifests":[]}`, ErrInvalid},
		{"schemaVersion missing", "", `{"manifests":[]}`, ErrInvalid},
		{"no config", MediaTypeOCIManifest, `{"schemaVersion":2,"layers":[]}`, ErrInvalid},
		{"unknown content type", "application/vnd.example+json", index(""), ErrInvalid},
		{"unknown body mediaType", "", `{"schemaVersion":2,"mediaType":"text/plain","manifests":[]}`, ErrInvalid},
		{"nothing to tell the type", "", `{"schemaVersion":2}`, ErrInvalid},
		{"not json", MediaTypeOCIManifest, `not json`, ErrInvalid},
		{"json array", MediaTypeOCIManifest, `[1,2]`, ErrInvalid},
		{"empty", MediaTypeOCIManifest, ``, ErrInvalid},
		{"malformed content type", "a/b; =", index(""), ErrInvalid},
		{"too big", "", `{"schemaVersion":2,"manifests":[],"annotations":{"a":"` + strings.Repeat("x", MaxSize) + `"}}`, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse(tt.contentType, []byte(tt.body))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse = %+v, %v; want %v", m, err, tt.want)
			}
		})
	}
}

func TestSchema1IsAlsoInvalid(t *testing.T) {
	_, err := Parse(MediaTypeDockerSchema1, []byte(`{}`))
	if !errors.Is(err, ErrSchema1) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v; want both ErrSchema1 and ErrInvalid", err)
	}
}

func TestBlobsSkipsNonDistributableLayers(t *testing.T) {
	doc := map[string]any{
		"schemaVersion": 2,
		"mediaType":     MediaTypeOCIManifest,
		"config":        map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": dConfig, "size": 2},
		"layers": []map[string]any{
			{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": dLayer, "size": 3},
			{"mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", "digest": dForeign, "size": 4},
			{"mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", "digest": dForeign, "size": 4, "urls": []string{"https://example.com/l"}},
			{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": dBig, "size": 5},
		},
	}
	body, _ := json.Marshal(doc)
	m, err := Parse(MediaTypeOCIManifest, body)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range m.Blobs() {
		got = append(got, string(b.Digest))
	}
	want := []string{dConfig, dLayer, dBig}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("Blobs() = %v, want %v", got, want)
	}
}

func TestArtifactTypeComesFromTheFieldElseTheConfig(t *testing.T) {
	withField := strings.Replace(image(MediaTypeOCIManifest, "application/vnd.oci.empty.v1+json"), `"annotations"`, `"artifactType":"application/vnd.example.sbom","annotations"`, 1)
	indexWithField := `{"schemaVersion":2,"mediaType":"` + MediaTypeOCIIndex + `","artifactType":"application/vnd.example.sig","manifests":[]}`
	subject := strings.Replace(image(MediaTypeOCIManifest, "application/vnd.example.cfg"), `"annotations"`, `"subject":{"mediaType":"`+MediaTypeOCIManifest+`","digest":"`+dChild+`","size":9},"annotations"`, 1)
	tests := []struct {
		name, body, want string
		subject          bool
	}{
		{"artifactType member", withField, "application/vnd.example.sbom", false},
		{"config mediaType", image(MediaTypeOCIManifest, "application/vnd.example.cfg"), "application/vnd.example.cfg", false},
		{"index artifactType", indexWithField, "application/vnd.example.sig", false},
		{"index without artifactType", index(MediaTypeOCIIndex), "", false},
		{"with subject", subject, "application/vnd.example.cfg", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse("", []byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if m.ArtifactType != tt.want {
				t.Errorf("ArtifactType = %q, want %q", m.ArtifactType, tt.want)
			}
			if (m.Subject != nil) != tt.subject || (tt.subject && string(m.Subject.Digest) != dChild) {
				t.Errorf("Subject = %+v", m.Subject)
			}
		})
	}
}

func TestStoredManifestsAreReadLeniently(t *testing.T) {
	schema1 := `{"schemaVersion":1,"name":"a","tag":"b","fsLayers":[{"blobSum":"` + dLayer + `"},{"blobSum":"` + dConfig + `"}],"signatures":[{}]}`
	subject := strings.Replace(image(MediaTypeOCIManifest, "x"), `"annotations"`, `"subject":{"mediaType":"x","digest":"`+dChild+`","size":9},"annotations"`, 1)
	tests := []struct {
		name, body, mediaType string
		blobs, children       int
		subject               string
	}{
		{"schema1 signed", schema1, MediaTypeDockerSchema1Sig, 2, 0, ""},
		{"schema1 unsigned", strings.Replace(schema1, `,"signatures":[{}]`, "", 1), MediaTypeDockerSchema1, 2, 0, ""},
		{"oci image with subject", subject, MediaTypeOCIManifest, 2, 0, dChild},
		{"docker list", index(MediaTypeDockerList), MediaTypeDockerList, 0, 1, ""},
		{"index without mediaType", index(""), MediaTypeOCIIndex, 0, 1, ""},
		{"image without mediaType", image("", "x"), MediaTypeOCIManifest, 2, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MediaTypeOf([]byte(tt.body)); got != tt.mediaType {
				t.Errorf("MediaTypeOf = %q, want %q", got, tt.mediaType)
			}
			r, err := References([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Blobs) != tt.blobs || len(r.Children) != tt.children || string(r.Subject) != tt.subject {
				t.Errorf("References = %+v", r)
			}
		})
	}
}

// A member set to null counts as absent, as it did when the whole document
// was decoded: "manifests": null does not make an image an index.
func TestMediaTypeOfTreatsNullMembersAsAbsent(t *testing.T) {
	for body, want := range map[string]string{
		`{"schemaVersion":2,"manifests":null}`:        MediaTypeOCIManifest,
		`{"schemaVersion":2,"manifests":[]}`:          MediaTypeOCIIndex,
		`{"fsLayers":[],"signatures":null}`:           MediaTypeDockerSchema1,
		`{"schemaVersion":2,"mediaType":"x/y","a":1}`: "x/y",
		`not json`: "",
	} {
		if got := MediaTypeOf([]byte(body)); got != want {
			t.Errorf("MediaTypeOf(%s) = %q, want %q", body, got, want)
		}
	}
}
