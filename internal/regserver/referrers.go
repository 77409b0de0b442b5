package regserver

import (
	"errors"
	"net/http"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/wharf-registry/wharf/pkg/manifest"
	"github.com/wharf-registry/wharf/pkg/storage"
)

// referrers lists the manifests whose subject is the given digest, as an
// OCI index, filtered by artifactType when asked. An unknown subject or
// repository has no referrers: the answer is still 200 with an empty list.
// https://github.com/opencontainers/distribution-spec/blob/main/spec.md#listing-referrers
func (s *Server) referrers(w http.ResponseWriter, r *http.Request) error {
	rt := apiRequestFrom(r.Context()).route
	d, err := parseDigest(rt.ref)
	if err != nil {
		return err
	}
	artifactType := r.URL.Query().Get("artifactType")
	descs, err := s.store.Referrers(r.Context(), rt.name, d, artifactType)
	if err != nil && !errors.Is(err, storage.ErrNameUnknown) && !errors.Is(err, storage.ErrManifestUnknown) {
		return err
	}
	if descs == nil {
		descs = []ocispec.Descriptor{}
	}
	if artifactType != "" {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	index := ocispec.Index{MediaType: manifest.MediaTypeOCIIndex, Manifests: descs}
	index.SchemaVersion = 2
	return writeJSON(w, http.StatusOK, manifest.MediaTypeOCIIndex, index)
}
