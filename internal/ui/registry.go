package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// manifestAccept is every manifest type the registry serves.
var manifestAccept = []string{
	ocispec.MediaTypeImageIndex,
	ocispec.MediaTypeImageManifest,
	"application/vnd.docker.distribution.manifest.list.v2+json",
	"application/vnd.docker.distribution.manifest.v2+json",
}

// regCall is one user's view of the registry for one browser request.
type regCall struct {
	api        *apiClient
	creds      credentials
	remoteAddr string
	// batch, when set, replaces the scopes of every call: a page about
	// 25 repositories asks the token server once for all of them.
	batch []string
}

func pullScope(name string) string   { return "repository:" + name + ":pull" }
func deleteScope(name string) string { return "repository:" + name + ":delete" }

const catalogScope = "registry:catalog:*"

// do runs a request with credentials for scopes.
func (c *regCall) do(ctx context.Context, method, path string, accept []string, scopes ...string) (*apiResponse, grants, error) {
	if c.batch != nil {
		scopes = c.batch
	}
	auth, g, err := c.creds.authFor(ctx, scopes)
	if err != nil {
		return nil, g, err
	}
	resp, err := c.api.call(ctx, method, path, accept, auth, c.remoteAddr)
	return resp, g, err
}

func (c *regCall) getJSON(ctx context.Context, path string, v any, scopes ...string) (*apiResponse, error) {
	resp, _, err := c.do(ctx, http.MethodGet, path, []string{"application/json"}, scopes...)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(resp.body, v); err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	return resp, nil
}

// catalogWalkLimit bounds how many names one search reads from the API.
const catalogWalkLimit = 100000

// catalogPage returns up to n repository names after last that contain q,
// and whether there are more, walking the API's own pagination.
func (c *regCall) catalogPage(ctx context.Context, q, last string, n int) ([]string, bool, error) {
	var out []string
	read := 0
	for {
		path := "/v2/_catalog?n=1000"
		if last != "" {
			path += "&last=" + url.QueryEscape(last)
		}
		var body struct {
			Repositories []string `json:"repositories"`
		}
		resp, err := c.getJSON(ctx, path, &body, catalogScope)
		if err != nil {
			return nil, false, err
		}
		for _, name := range body.Repositories {
			if q != "" && !strings.Contains(name, q) {
				continue
			}
			if len(out) == n {
				return out, true, nil
			}
			out = append(out, name)
		}
		read += len(body.Repositories)
		if len(body.Repositories) == 0 || resp.header.Get("Link") == "" || read >= catalogWalkLimit {
			return out, false, nil
		}
		last = body.Repositories[len(body.Repositories)-1]
	}
}

// tagLimit bounds the tags one repository page reads.
const tagLimit = 10000

// tags lists all tags of name (up to tagLimit).
func (c *regCall) tags(ctx context.Context, name string) ([]string, error) {
	var out []string
	last := ""
	for len(out) < tagLimit {
		path := "/v2/" + name + "/tags/list?n=1000"
		if last != "" {
			path += "&last=" + url.QueryEscape(last)
		}
		var body struct {
			Tags []string `json:"tags"`
		}
		resp, err := c.getJSON(ctx, path, &body, pullScope(name))
		if err != nil {
			return nil, err
		}
		out = append(out, body.Tags...)
		if len(body.Tags) == 0 || resp.header.Get("Link") == "" {
			break
		}
		last = body.Tags[len(body.Tags)-1]
	}
	return out, nil
}

// manifestDoc is a manifest as the registry served it.
type manifestDoc struct {
	MediaType string
	Digest    string
	Size      int64
	Image     *ocispec.Manifest // set for image manifests
	Index     *ocispec.Index    // set for indexes and manifest lists
}

// manifest fetches a manifest by tag or digest.
func (c *regCall) manifest(ctx context.Context, name, ref string) (*manifestDoc, error) {
	resp, _, err := c.do(ctx, http.MethodGet, "/v2/"+name+"/manifests/"+ref, manifestAccept, pullScope(name))
	if err != nil {
		return nil, err
	}
	d := &manifestDoc{
		MediaType: resp.header.Get("Content-Type"),
		Digest:    resp.header.Get("Docker-Content-Digest"),
		Size:      int64(len(resp.body)),
	}
	var probe struct {
		MediaType string            `json:"mediaType"`
		Manifests []json.RawMessage `json:"manifests"`
	}
	if err := json.Unmarshal(resp.body, &probe); err != nil {
		return nil, fmt.Errorf("manifest %s:%s: %w", name, ref, err)
	}
	if strings.Contains(d.MediaType, "index") || strings.Contains(d.MediaType, "list") || probe.Manifests != nil {
		d.Index = &ocispec.Index{}
		err = json.Unmarshal(resp.body, d.Index)
	} else {
		d.Image = &ocispec.Manifest{}
		err = json.Unmarshal(resp.body, d.Image)
	}
	if err != nil {
		return nil, fmt.Errorf("manifest %s:%s: %w", name, ref, err)
	}
	return d, nil
}

// imageSize is what pulling the image moves: config and layers.
func imageSize(m *ocispec.Manifest) int64 {
	n := m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	return n
}

// config fetches and decodes an image's config blob.
func (c *regCall) config(ctx context.Context, name string, m *ocispec.Manifest) (*ocispec.Image, error) {
	if !strings.Contains(m.Config.MediaType, "image.config") && !strings.Contains(m.Config.MediaType, "container.image") {
		return nil, nil // an artifact: its config is not an image's
	}
	var img ocispec.Image
	if _, err := c.getJSON(ctx, "/v2/"+name+"/blobs/"+m.Config.Digest.String(), &img, pullScope(name)); err != nil {
		return nil, err
	}
	return &img, nil
}

// referrers lists the manifests whose subject is digest.
func (c *regCall) referrers(ctx context.Context, name, digest string) ([]ocispec.Descriptor, error) {
	var idx ocispec.Index
	if _, err := c.getJSON(ctx, "/v2/"+name+"/referrers/"+digest, &idx, pullScope(name)); err != nil {
		return nil, err
	}
	return idx.Manifests, nil
}

// canDelete asks for delete on name and reports whether it was granted.
// Registries without token auth grant whatever they allow at all.
func (c *regCall) canDelete(ctx context.Context, name string) (bool, error) {
	_, g, err := c.creds.authFor(ctx, []string{pullScope(name), deleteScope(name)})
	if err != nil {
		return false, err
	}
	return g.allows(name, "delete"), nil
}

// deleteManifest deletes a tag (only the tag) or a manifest by digest.
func (c *regCall) deleteManifest(ctx context.Context, name, ref string) error {
	_, _, err := c.do(ctx, http.MethodDelete, "/v2/"+name+"/manifests/"+ref, nil, pullScope(name), deleteScope(name))
	return err
}
