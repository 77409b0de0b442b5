package regserver

import (
	"net/http"
	"strings"

	"github.com/wharf-registry/wharf/pkg/reference"
)

// routeKind is one endpoint of the distribution API.
type routeKind int

const (
	routeBase        routeKind = iota // /v2/
	routeCatalog                      // /v2/_catalog
	routeTags                         // /v2/<name>/tags/list
	routeManifest                     // /v2/<name>/manifests/<reference>
	routeBlob                         // /v2/<name>/blobs/<digest>
	routeUploadStart                  // /v2/<name>/blobs/uploads/
	routeUpload                       // /v2/<name>/blobs/uploads/<uuid>
	routeReferrers                    // /v2/<name>/referrers/<digest>
)

// String is the route's name in metrics and logs.
func (k routeKind) String() string {
	return [...]string{"base", "catalog", "tags", "manifest", "blob", "upload_start", "upload", "referrers"}[k]
}

// methods lists what each route answers; anything else is 405.
var methods = map[routeKind][]string{
	routeBase:        {http.MethodGet, http.MethodHead},
	routeCatalog:     {http.MethodGet, http.MethodHead},
	routeTags:        {http.MethodGet, http.MethodHead},
	routeManifest:    {http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete},
	routeBlob:        {http.MethodGet, http.MethodHead, http.MethodDelete},
	routeUploadStart: {http.MethodPost},
	routeUpload:      {http.MethodGet, http.MethodPatch, http.MethodPut, http.MethodDelete},
	routeReferrers:   {http.MethodGet, http.MethodHead},
}

// route is a parsed API path.
type route struct {
	kind routeKind
	name string // repository; "" for base and catalog
	ref  string // the last segment: tag or digest, digest, or upload id
}

// parseRoute parses the escaped path that follows /v2. OCI names contain
// slashes, so the known suffixes are matched from the right and whatever
// precedes them is the name, which must then match the OCI grammar. The
// path is used escaped: %2F never becomes a slash inside a name, and any
// escape makes the name invalid since the grammar has no '%'.
func parseRoute(p string) (route, error) {
	if p == "" || p == "/" {
		return route{kind: routeBase}, nil
	}
	if !strings.HasPrefix(p, "/") {
		return route{}, noRoute()
	}
	rest := p[1:]
	if rest == "_catalog" {
		return route{kind: routeCatalog}, nil
	}
	segs := strings.Split(rest, "/")
	n := len(segs)
	if n < 3 {
		return route{}, noRoute()
	}
	var rt route
	nameEnd := n - 2
	switch {
	case segs[n-2] == "tags" && segs[n-1] == "list":
		rt.kind = routeTags
	case segs[n-2] == "manifests":
		rt.kind, rt.ref = routeManifest, segs[n-1]
	case segs[n-2] == "referrers":
		rt.kind, rt.ref = routeReferrers, segs[n-1]
	case n >= 4 && segs[n-3] == "blobs" && segs[n-2] == "uploads":
		nameEnd = n - 3
		rt.kind, rt.ref = routeUpload, segs[n-1]
		if rt.ref == "" {
			rt.kind = routeUploadStart
		}
	case segs[n-2] == "blobs" && segs[n-1] == "uploads": // POST without the trailing slash
		rt.kind = routeUploadStart
	case segs[n-2] == "blobs":
		rt.kind, rt.ref = routeBlob, segs[n-1]
	default:
		return route{}, noRoute()
	}
	rt.name = strings.Join(segs[:nameEnd], "/")
	if !reference.ValidRepository(rt.name) {
		return route{}, errorf(http.StatusBadRequest, codeNameInvalid, "invalid repository name")
	}
	return rt, nil
}

// noRoute answers paths that are no endpoint of the API.
func noRoute() *Error { return errorf(http.StatusNotFound, codeNotFound, "no such endpoint") }

// allows reports whether the route answers method.
func (rt route) allows(method string) bool {
	for _, m := range methods[rt.kind] {
		if m == method {
			return true
		}
	}
	return false
}
