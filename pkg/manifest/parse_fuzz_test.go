package manifest

import (
	"errors"
	"testing"

	"github.com/wharf-registry/wharf/pkg/reference"
)

// FuzzParse: no body or content type makes Parse, References or
// MediaTypeOf panic; Parse either fails with ErrInvalid or returns a
// manifest of a known type whose every descriptor names a storable digest
// and is of the right kind for the type (no document mixes manifests with
// config/layers). Seeds are the documents of the parse tests and issue 6.
func FuzzParse(f *testing.F) {
	for _, ct := range []string{"", MediaTypeOCIManifest, MediaTypeOCIIndex, MediaTypeDockerSchema2, MediaTypeDockerList, "application/json", "text/html; charset=<bad>"} {
		f.Add(ct, image(MediaTypeOCIManifest, "application/vnd.oci.image.config.v1+json"))
		f.Add(ct, index(MediaTypeOCIIndex))
	}
	f.Add(MediaTypeOCIIndex, `{"schemaVersion":2,"mediaType":"`+MediaTypeOCIIndex+`","manifests":[],"layers":[]}`)
	f.Add("", `{"schemaVersion":2,"config":{"digest":"sha256:abc","size":-1}}`)
	f.Add("", `{"schemaVersion":1,"fsLayers":[{"blobSum":"x"}]}`)
	f.Add("", `{"schemaVersion":2,"subject":{"digest":"`+dChild+`","size":1},"config":{"digest":"`+dConfig+`","size":1}}`)
	f.Add("", `[`)
	f.Add("", `{"schemaVersion":2e0}`)
	f.Fuzz(func(t *testing.T, contentType, body string) {
		_, _ = References([]byte(body))
		_ = MediaTypeOf([]byte(body))
		m, err := Parse(contentType, []byte(body))
		if err != nil {
			if !errors.Is(err, ErrInvalid) || m != nil {
				t.Fatalf("Parse = %v, %v", m, err)
			}
			return
		}
		if !known(m.MediaType) {
			t.Fatalf("accepted media type %q", m.MediaType)
		}
		if IsIndex(m.MediaType) && (m.Config != nil || m.Layers != nil) || !IsIndex(m.MediaType) && (m.Config == nil || m.Manifests != nil) {
			t.Fatalf("%s with config %v, layers %v, manifests %v", m.MediaType, m.Config, m.Layers, m.Manifests)
		}
		descs := append(m.Blobs(), m.Manifests...)
		if m.Subject != nil {
			descs = append(descs, *m.Subject)
		}
		for _, d := range descs {
			if _, err := reference.ParseDigest(string(d.Digest)); err != nil || d.Size < 0 {
				t.Fatalf("accepted descriptor %+v: %v", d, err)
			}
		}
	})
}
