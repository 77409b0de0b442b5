// Package manifest parses and validates the four manifest formats a registry
// accepts on push (Docker schema2, Docker manifest list, OCI image manifest,
// OCI index) and extracts what storage needs from them: the blobs a manifest
// depends on, the child manifests of an index and the subject of a referrer.
//
// Parsing is strict about types and about the fields that decide what a
// document is, but ignores unknown members, which the OCI spec allows as
// extensions.
package manifest

import (
	"errors"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Manifest media types understood by the registry.
const (
	MediaTypeDockerSchema2    = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerList       = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeDockerSchema1    = "application/vnd.docker.distribution.manifest.v1+json"
	MediaTypeDockerSchema1Sig = "application/vnd.docker.distribution.manifest.v1+prettyjws"
	MediaTypeOCIManifest      = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeOCIIndex         = "application/vnd.oci.image.index.v1+json"

	// MaxSize is the largest manifest body accepted, in bytes.
	MaxSize = 4 << 20
)

var (
	// ErrInvalid is wrapped, with detail, by every validation failure.
	ErrInvalid = errors.New("manifest invalid")
	// ErrSchema1 reports a Docker schema1 manifest; errors.Is(err, ErrInvalid)
	// holds for it too.
	ErrSchema1 error = schema1Error{}
)

// schema1Error is its own type so that one value is both ErrSchema1 and,
// through Unwrap, ErrInvalid.
type schema1Error struct{}

func (schema1Error) Error() string { return "schema1 manifests are not supported" }
func (schema1Error) Unwrap() error { return ErrInvalid }

// Manifest is a parsed and validated manifest or index.
type Manifest struct {
	MediaType string
	// ArtifactType is the artifactType member or, for an image manifest
	// without one, config.mediaType: what the referrers API reports.
	ArtifactType string
	Config       *ocispec.Descriptor
	Layers       []ocispec.Descriptor
	Manifests    []ocispec.Descriptor // children of an index or manifest list
	Subject      *ocispec.Descriptor
	Annotations  map[string]string
}

// IsIndex reports whether mediaType is an OCI index or a Docker manifest list.
func IsIndex(mediaType string) bool {
	return mediaType == MediaTypeOCIIndex || mediaType == MediaTypeDockerList
}

// known reports whether mediaType is one of the formats accepted on push.
func known(mediaType string) bool {
	switch mediaType {
	case MediaTypeDockerSchema2, MediaTypeDockerList, MediaTypeOCIManifest, MediaTypeOCIIndex:
		return true
	}
	return false
}

func isSchema1(mediaType string) bool {
	return mediaType == MediaTypeDockerSchema1 || mediaType == MediaTypeDockerSchema1Sig
}

// Blobs returns the config and layers that must exist in the repository for
// the manifest to be accepted. Non-distributable (foreign) layers are skipped:
// clients never push them, they are fetched from their URLs.
func (m *Manifest) Blobs() []ocispec.Descriptor {
	out := make([]ocispec.Descriptor, 0, len(m.Layers)+1)
	if m.Config != nil {
		out = append(out, *m.Config)
	}
	for _, l := range m.Layers {
		if nonDistributable(l.MediaType) {
			continue
		}
		out = append(out, l)
	}
	return out
}

func nonDistributable(mediaType string) bool {
	return strings.HasPrefix(mediaType, "application/vnd.oci.image.layer.nondistributable.") ||
		strings.HasPrefix(mediaType, "application/vnd.docker.image.rootfs.foreign.")
}
