package regserver

import (
	"sort"
	"strings"
)

// Endpoint describes one endpoint of the API, for tests and tools that
// must cover every endpoint (test/hardening builds its auth table from
// Endpoints, so a new route cannot escape it).
type Endpoint struct {
	// Name is the route's name in metrics and logs ("manifest").
	Name string
	// Path is a template of the path under the API root with the
	// placeholders {name}, {reference}, {digest} and {uuid}.
	Path string
	// Methods are the methods the endpoint answers; others get 405.
	Methods []string
	// Repository reports whether the path names a repository, so the
	// request needs a repository grant.
	Repository bool
}

// templates is the path of each route, as Endpoints reports it.
var templates = map[routeKind]string{
	routeBase:        "/v2/",
	routeCatalog:     "/v2/_catalog",
	routeTags:        "/v2/{name}/tags/list",
	routeManifest:    "/v2/{name}/manifests/{reference}",
	routeBlob:        "/v2/{name}/blobs/{digest}",
	routeUploadStart: "/v2/{name}/blobs/uploads/",
	routeUpload:      "/v2/{name}/blobs/uploads/{uuid}",
	routeReferrers:   "/v2/{name}/referrers/{digest}",
}

// Endpoints lists every endpoint the router answers, in a stable order.
func Endpoints() []Endpoint {
	out := make([]Endpoint, 0, len(methods))
	for kind, ms := range methods {
		p, ok := templates[kind]
		if !ok {
			panic("regserver: route " + kind.String() + " has no path template")
		}
		out = append(out, Endpoint{
			Name:       kind.String(),
			Path:       p,
			Methods:    append([]string(nil), ms...),
			Repository: strings.Contains(p, "{name}"),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}
