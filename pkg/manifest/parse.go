package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/wharf-registry/wharf/pkg/reference"
)

// document holds the members of every supported format at once, so one
// decode tells what the body claims to be and whether it mixes formats.
type document struct {
	SchemaVersion *int                 `json:"schemaVersion"`
	MediaType     string               `json:"mediaType"`
	ArtifactType  string               `json:"artifactType"`
	Config        *ocispec.Descriptor  `json:"config"`
	Layers        []ocispec.Descriptor `json:"layers"`
	Manifests     []ocispec.Descriptor `json:"manifests"`
	Subject       *ocispec.Descriptor  `json:"subject"`
	Annotations   map[string]string    `json:"annotations"`

	// Schema1 members, only to recognise such documents and, in stored
	// ones, find their layers.
	FSLayers []struct {
		BlobSum string `json:"blobSum"`
	} `json:"fsLayers"`
	Signatures json.RawMessage `json:"signatures"`
}

func decode(body []byte) (*document, error) {
	if len(body) > MaxSize {
		return nil, fmt.Errorf("%w: body of %d bytes exceeds %d", ErrInvalid, len(body), MaxSize)
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, fmt.Errorf("%w: body is not a JSON object", ErrInvalid)
	}
	var doc document
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return &doc, nil
}

// normalizeContentType drops parameters and case; generic JSON types carry
// no information about the format, so they count as absent.
func normalizeContentType(ct string) (string, error) {
	ct = strings.TrimSpace(ct)
	if ct == "" {
		return "", nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", fmt.Errorf("%w: content type %.100q: %v", ErrInvalid, ct, err)
	}
	if mt == "application/json" || mt == "application/octet-stream" {
		return "", nil
	}
	return mt, nil
}

// Parse validates body. contentType is the request Content-Type; "" means
// the body's mediaType decides, and when both are absent the members do:
// "manifests" makes an OCI index, "config" or "layers" an OCI image manifest.
// Contradictions between the two, documents mixing "manifests" with
// "config"/"layers", schemaVersion other than 2 and malformed descriptors
// wrap ErrInvalid; schema1 documents return ErrSchema1.
func Parse(contentType string, body []byte) (*Manifest, error) {
	ct, err := normalizeContentType(contentType)
	if err != nil {
		return nil, err
	}
	if isSchema1(ct) {
		return nil, fmt.Errorf("%w (content type %s)", ErrSchema1, ct)
	}
	doc, err := decode(body)
	if err != nil {
		return nil, err
	}
	if isSchema1(doc.MediaType) || doc.FSLayers != nil || (doc.SchemaVersion != nil && *doc.SchemaVersion == 1) {
		return nil, ErrSchema1
	}
	if doc.SchemaVersion == nil || *doc.SchemaVersion != 2 {
		return nil, fmt.Errorf("%w: schemaVersion must be 2", ErrInvalid)
	}

	mt, err := resolveMediaType(ct, doc)
	if err != nil {
		return nil, err
	}
	m := &Manifest{
		MediaType:    mt,
		ArtifactType: doc.ArtifactType,
		Config:       doc.Config,
		Layers:       doc.Layers,
		Manifests:    doc.Manifests,
		Subject:      doc.Subject,
		Annotations:  doc.Annotations,
	}
	if IsIndex(mt) {
		err = validateIndex(doc)
	} else {
		err = validateImage(doc)
		if m.ArtifactType == "" && m.Config != nil {
			m.ArtifactType = m.Config.MediaType
		}
	}
	if err != nil {
		return nil, err
	}
	if doc.Subject != nil {
		if err := validateDescriptor("subject", *doc.Subject); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// resolveMediaType decides the format from the content type, the body's
// mediaType and, failing both, the members present.
func resolveMediaType(ct string, doc *document) (string, error) {
	hasImage := doc.Config != nil || doc.Layers != nil
	hasIndex := doc.Manifests != nil
	if hasImage && hasIndex {
		return "", fmt.Errorf("%w: document has both manifests and config/layers", ErrInvalid)
	}
	if ct != "" && !known(ct) {
		return "", fmt.Errorf("%w: unsupported content type %.100q", ErrInvalid, ct)
	}
	if doc.MediaType != "" && !known(doc.MediaType) {
		return "", fmt.Errorf("%w: unsupported mediaType %.100q", ErrInvalid, doc.MediaType)
	}
	if ct != "" && doc.MediaType != "" && ct != doc.MediaType {
		return "", fmt.Errorf("%w: mediaType %s contradicts content type %s", ErrInvalid, doc.MediaType, ct)
	}
	mt := ct
	if mt == "" {
		mt = doc.MediaType
	}
	if mt == "" {
		switch {
		case hasIndex:
			mt = MediaTypeOCIIndex
		case hasImage:
			mt = MediaTypeOCIManifest
		default:
			return "", fmt.Errorf("%w: cannot tell the manifest type: no mediaType, manifests, config or layers", ErrInvalid)
		}
	}
	if IsIndex(mt) && hasImage {
		return "", fmt.Errorf("%w: %s must not have config or layers", ErrInvalid, mt)
	}
	if !IsIndex(mt) && hasIndex {
		return "", fmt.Errorf("%w: %s must not have manifests", ErrInvalid, mt)
	}
	return mt, nil
}

func validateImage(doc *document) error {
	if doc.Config == nil {
		return fmt.Errorf("%w: config is required", ErrInvalid)
	}
	if err := validateDescriptor("config", *doc.Config); err != nil {
		return err
	}
	for i, l := range doc.Layers {
		if err := validateDescriptor(fmt.Sprintf("layers[%d]", i), l); err != nil {
			return err
		}
	}
	return nil
}

func validateIndex(doc *document) error {
	for i, c := range doc.Manifests {
		if err := validateDescriptor(fmt.Sprintf("manifests[%d]", i), c); err != nil {
			return err
		}
	}
	return nil
}

// validateDescriptor insists on digests this registry can store: a
// descriptor naming any other algorithm could never be satisfied anyway.
func validateDescriptor(field string, d ocispec.Descriptor) error {
	if _, err := reference.ParseDigest(string(d.Digest)); err != nil {
		return fmt.Errorf("%w: %s.digest: %v", ErrInvalid, field, err)
	}
	if d.Size < 0 {
		return fmt.Errorf("%w: %s.size is negative", ErrInvalid, field)
	}
	return nil
}
