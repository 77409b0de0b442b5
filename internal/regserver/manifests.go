package regserver

import (
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/wharf-registry/wharf/internal/httpbody"
	"github.com/wharf-registry/wharf/pkg/manifest"
	"github.com/wharf-registry/wharf/pkg/reference"
)

// manifestTypes are the media types a client may list in Accept to say
// which manifests it understands.
var manifestTypes = map[string]bool{
	manifest.MediaTypeDockerSchema2:    true,
	manifest.MediaTypeDockerList:       true,
	manifest.MediaTypeDockerSchema1:    true,
	manifest.MediaTypeDockerSchema1Sig: true,
	manifest.MediaTypeOCIManifest:      true,
	manifest.MediaTypeOCIIndex:         true,
}

// checkReference validates a manifest reference from the URL: a digest
// (400 DIGEST_INVALID when malformed) or a tag. A malformed tag cannot
// name anything, so reads answer 404 and writes 400.
func checkReference(ref string, write bool) error {
	if reference.IsDigest(ref) {
		_, err := parseDigest(ref)
		return err
	}
	if reference.ValidTag(ref) {
		return nil
	}
	if write {
		return errorf(http.StatusBadRequest, codeManifestInvalid, "invalid tag (want [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127})")
	}
	return errorf(http.StatusNotFound, codeManifestUnknown, "manifest unknown: invalid tag")
}

// getManifest answers GET and HEAD of a manifest by tag or digest.
// https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pulling-manifests
func (s *Server) getManifest(w http.ResponseWriter, r *http.Request) error {
	rt := apiRequestFrom(r.Context()).route
	if err := checkReference(rt.ref, false); err != nil {
		return err
	}
	m, err := s.manifest(r.Context(), rt.name, rt.ref)
	if err != nil {
		return err
	}
	mediaType := m.MediaType
	if mediaType == "" {
		mediaType = manifest.MediaTypeOCIManifest
	}
	if !accepts(r, mediaType) {
		// What registry:2 does for an OCI manifest asked for by an old
		// client: better "unknown" than a document it cannot read.
		return errorf(http.StatusNotFound, codeManifestUnknown,
			"manifest is a %s, which the request's Accept header does not list", mediaType)
	}
	h := w.Header()
	etag := `"` + m.Digest.String() + `"`
	h.Set("Content-Type", mediaType)
	h.Set("Docker-Content-Digest", m.Digest.String())
	h.Set("Etag", etag)
	if inm := r.Header.Get("If-None-Match"); inm != "" && strings.Contains(inm, etag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	h.Set("Content-Length", strconv.Itoa(len(m.Body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	_, _ = w.Write(m.Body) // a failed write means the client is gone
	return nil
}

// accepts reports whether the request's Accept header admits mediaType.
// Only manifest media types count: no Accept, */* or an Accept naming no
// manifest type at all (a browser, curl) admits anything.
func accepts(r *http.Request, mediaType string) bool {
	listed := false
	for _, header := range r.Header.Values("Accept") {
		for _, part := range strings.Split(header, ",") {
			mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			switch {
			case mt == mediaType, mt == "*/*", mt == "application/*":
				return true
			case manifestTypes[mt]:
				listed = true
			}
		}
	}
	return !listed
}

// putManifest stores a manifest under a tag or its digest.
// https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pushing-manifests
func (s *Server) putManifest(w http.ResponseWriter, r *http.Request) error {
	rt := apiRequestFrom(r.Context()).route
	if err := checkReference(rt.ref, true); err != nil {
		return err
	}
	// OCI 1.1+: PUT by digest may name tags to set in the same request.
	tags := r.URL.Query()["tag"]
	for _, t := range tags {
		if !reference.ValidTag(t) {
			return errorf(http.StatusBadRequest, codeManifestInvalid, "invalid tag %q in the tag parameter", t)
		}
	}
	body, err := httpbody.Read(w, r, manifest.MaxSize)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge()
		}
		return err
	}
	contentType := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(contentType); err == nil {
		contentType = mt
	}
	desc, m, err := s.store.PutManifest(r.Context(), rt.name, rt.ref, contentType, body)
	if err != nil {
		return err
	}
	h := w.Header()
	for _, t := range tags {
		if err := s.store.TagManifest(r.Context(), rt.name, t, desc.Digest); err != nil {
			return err
		}
		h.Add("OCI-Tag", t)
	}
	h.Set("Location", s.url("/v2/"+rt.name+"/manifests/"+desc.Digest.String()))
	h.Set("Docker-Content-Digest", desc.Digest.String())
	if m != nil && m.Subject != nil {
		h.Set("OCI-Subject", m.Subject.Digest.String())
	}
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

func tooLarge() *Error {
	return errorf(http.StatusRequestEntityTooLarge, codeSizeInvalid, "manifest larger than %d bytes", manifest.MaxSize)
}

// deleteManifest removes a tag (only the tag) or, by digest, the manifest.
// https://github.com/opencontainers/distribution-spec/blob/main/spec.md#deleting-tags
func (s *Server) deleteManifest(w http.ResponseWriter, r *http.Request) error {
	if !s.deleteEnabled {
		return errDeleteDisabled()
	}
	rt := apiRequestFrom(r.Context()).route
	if err := checkReference(rt.ref, false); err != nil {
		return err
	}
	if reference.IsDigest(rt.ref) {
		d, _ := parseDigest(rt.ref)
		if err := s.store.DeleteManifest(r.Context(), rt.name, d); err != nil {
			return err
		}
	} else if err := s.store.DeleteTag(r.Context(), rt.name, rt.ref); err != nil {
		return err
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
	return nil
}
