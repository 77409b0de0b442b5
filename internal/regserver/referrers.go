package regserver

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/wharf-registry/wharf/pkg/manifest"
	"github.com/wharf-registry/wharf/pkg/storage"
)

// maxReferrersPage caps the descriptors of one referrers page: each is a
// manifest read and parsed, so an unbounded list is unbounded work.
const maxReferrersPage = 100

// referrers lists the manifests whose subject is the given digest, as an
// OCI index, filtered by artifactType when asked. An unknown subject or
// repository has no referrers: the answer is still 200 with an empty list.
// Pages hold at most maxReferrersPage descriptors (fewer with ?n=, or when
// a page's manifests reach storage.MaxReferrerBytes), in digest order; a
// page with more after it carries Link: <...?last=<digest>&n=..>;
// rel="next", as the spec asks when the list does not fit one response.
// https://github.com/opencontainers/distribution-spec/blob/main/spec.md#listing-referrers
func (s *Server) referrers(w http.ResponseWriter, r *http.Request) error {
	rt := apiRequestFrom(r.Context()).route
	d, err := parseDigest(rt.ref)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	n, err := pageSize(q)
	if err != nil {
		return err
	}
	n = min(n, maxReferrersPage)
	var after digest.Digest
	if last := q.Get("last"); last != "" {
		if after, err = parseDigest(last); err != nil {
			return errorf(http.StatusBadRequest, codePaginationInvalid, "last must be a digest, got %.80q", last)
		}
	}
	artifactType := q.Get("artifactType")
	descs, next, err := s.store.Referrers(r.Context(), rt.name, d, artifactType, after, n)
	if err != nil && !errors.Is(err, storage.ErrNameUnknown) && !errors.Is(err, storage.ErrManifestUnknown) {
		return err
	}
	if descs == nil {
		descs = []ocispec.Descriptor{}
	}
	if artifactType != "" {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	if next != "" {
		link := url.Values{"last": {next.String()}, "n": {strconv.Itoa(n)}}
		if artifactType != "" {
			link.Set("artifactType", artifactType)
		}
		w.Header().Set("Link", "<"+s.url("/v2/"+rt.name+"/referrers/"+d.String())+"?"+link.Encode()+`>; rel="next"`)
	}
	index := ocispec.Index{MediaType: manifest.MediaTypeOCIIndex, Manifests: descs}
	index.SchemaVersion = 2
	return writeJSON(w, http.StatusOK, manifest.MediaTypeOCIIndex, index)
}
