package manifest

import (
	"encoding/json"
	"github.com/opencontainers/go-digest"
)

// Refs lists what a stored manifest points at, for garbage collection and
// deletion. Digests are as written in the document and not validated.
type Refs struct {
	Blobs    []digest.Digest // config and layers (schema1: fsLayers)
	Children []digest.Digest // manifests of an index or manifest list
	Subject  digest.Digest   // "" when there is none
}

// References reads a manifest already in storage, leniently: stores written
// by registry:2 may hold schema1 documents, whose layers must survive garbage
// collection as much as anyone's.
func References(body []byte) (Refs, error) {
	doc, err := decode(body)
	if err != nil {
		return Refs{}, err
	}
	var r Refs
	if doc.Config != nil {
		r.Blobs = append(r.Blobs, doc.Config.Digest)
	}
	for _, l := range doc.Layers {
		r.Blobs = append(r.Blobs, l.Digest)
	}
	for _, l := range doc.FSLayers {
		r.Blobs = append(r.Blobs, digest.Digest(l.BlobSum))
	}
	for _, c := range doc.Manifests {
		r.Children = append(r.Children, c.Digest)
	}
	if doc.Subject != nil {
		r.Subject = doc.Subject.Digest
	}
	return r, nil
}

// MediaTypeOf tells the media type of a stored manifest body: its mediaType
// member or, when absent, what its members imply. Schema1 documents, which
// carry no mediaType, are reported as signed or unsigned schema1.
func MediaTypeOf(body []byte) string {
	// Every GET and HEAD of a manifest asks this, so only the members that
	// decide it are decoded, and only for their presence: descriptors and
	// annotations are skipped, not built.
	var doc struct {
		SchemaVersion *int            `json:"schemaVersion"`
		MediaType     string          `json:"mediaType"`
		Manifests     json.RawMessage `json:"manifests"`
		FSLayers      json.RawMessage `json:"fsLayers"`
		Signatures    json.RawMessage `json:"signatures"`
	}
	if len(body) > MaxSize || json.Unmarshal(body, &doc) != nil {
		return ""
	}
	switch {
	case doc.MediaType != "":
		return doc.MediaType
	case present(doc.FSLayers) || (doc.SchemaVersion != nil && *doc.SchemaVersion == 1):
		if present(doc.Signatures) {
			return MediaTypeDockerSchema1Sig
		}
		return MediaTypeDockerSchema1
	case present(doc.Manifests):
		return MediaTypeOCIIndex
	default:
		return MediaTypeOCIManifest
	}
}

// present reports whether a member was given a value other than null.
func present(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}
