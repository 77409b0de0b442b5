package ui

import (
	"net/http"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/wharf-registry/wharf/pkg/reference"
)

// platformRow is one entry of an index, linked to its own manifest page.
type platformRow struct {
	Platform  string
	Digest    string
	MediaType string
	Size      int64
}

type manifestData struct {
	Name      string
	Ref       string
	IsTag     bool
	Doc       *manifestDoc
	Total     int64 // image: config and layers
	Config    *ocispec.Image
	Platforms []platformRow
	Others    []ocispec.Descriptor // index entries without a platform (attestations)
	Referrers []ocispec.Descriptor
	RefErr    string
	Pull      string
	CanDelete bool
}

// manifestPage shows one manifest: media type, layers, the image config,
// an index's platforms, the referrers, and the docker pull line.
func (s *Server) manifestPage(w http.ResponseWriter, r *http.Request, v *view) error {
	name, err := repoName(r)
	if err != nil {
		return err
	}
	ref, err := refParam(r)
	if err != nil {
		return err
	}
	call := s.call(v)
	doc, err := call.manifest(r.Context(), name, ref)
	if err != nil {
		return err
	}
	d := manifestData{Name: name, Ref: ref, IsTag: !reference.IsDigest(ref), Doc: doc}
	d.Pull = "docker pull " + pullRef(v.Host, name, ref)
	if doc.Image != nil {
		d.Total = imageSize(doc.Image)
		if d.Config, err = call.config(r.Context(), name, doc.Image); err != nil {
			return err
		}
	} else {
		for _, m := range doc.Index.Manifests {
			if m.Platform == nil || m.Platform.OS == "unknown" {
				d.Others = append(d.Others, m)
				continue
			}
			d.Platforms = append(d.Platforms, platformRow{Platform: platformOf(*m.Platform),
				Digest: m.Digest.String(), MediaType: m.MediaType, Size: m.Size})
		}
	}
	if doc.Digest != "" {
		// The referrers API is optional for a page: a failure is shown
		// in its section, the manifest is still worth seeing.
		if d.Referrers, err = call.referrers(r.Context(), name, doc.Digest); err != nil {
			d.RefErr = explain(err).Msg
		}
	}
	if d.CanDelete, err = s.mayDelete(r.Context(), call, name); err != nil {
		return err
	}
	v.Title, v.Data = name+pullSuffix(ref), d
	s.render(w, http.StatusOK, "manifest.html", v)
	return nil
}

// pullRef is what docker pull is given: host/name:tag or host/name@digest.
func pullRef(host, name, ref string) string {
	return strings.TrimSuffix(host, "/") + "/" + name + pullSuffix(ref)
}

func pullSuffix(ref string) string {
	if reference.IsDigest(ref) {
		return "@" + ref
	}
	return ":" + ref
}
