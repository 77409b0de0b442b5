package regserver

import (
	"net/http"
	"strings"

	"github.com/wharf-registry/wharf/pkg/reference"
)

// access is one resource and the actions a request needs on it, in the
// terms of the Docker token scope grammar (type:name:actions).
type access struct {
	Type    string
	Name    string
	Actions []string
}

// scope renders a in the scope grammar, as challenges carry it.
func (a access) scope() string {
	return a.Type + ":" + a.Name + ":" + strings.Join(a.Actions, ",")
}

// accessRecord is one (resource, action) pair in an UNAUTHORIZED error's
// detail, in the shape registry:2 sends.
type accessRecord struct {
	Type   string `json:"Type"`
	Class  string `json:"Class"`
	Name   string `json:"Name"`
	Action string `json:"Action"`
}

// decision is what a request needs, decided once, before authentication,
// from the route and method alone (see NOTES.md "What a registry checks").
type decision struct {
	// need must all be granted or the request is refused.
	need []access
	// mountFrom, when set, is the pull on a mount's source repository: asked
	// for in challenges, but without it the mount falls back to an ordinary
	// upload session rather than failing.
	mountFrom *access
}

// decide maps the route and method to the access they need:
//
//	/v2/                   any authenticated caller
//	/v2/_catalog           registry:catalog:*
//	GET, HEAD              repository:<name>:pull
//	POST, PUT, PATCH       repository:<name>:pull,push
//	DELETE                 repository:<name>:delete
//	POST ?mount=&from=     also repository:<from>:pull, optionally
func decide(rt route, r *http.Request) decision {
	var d decision
	switch rt.kind {
	case routeBase:
		return d
	case routeCatalog:
		d.need = []access{{Type: "registry", Name: "catalog", Actions: []string{"*"}}}
		return d
	}
	var actions []string
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		actions = []string{"pull"}
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		actions = []string{"pull", "push"}
	case http.MethodDelete:
		actions = []string{"delete"}
	default:
		actions = []string{"pull", "push"} // unreachable: routes refuse other methods first
	}
	d.need = []access{{Type: "repository", Name: rt.name, Actions: actions}}
	if rt.kind == routeUploadStart {
		q := r.URL.Query()
		if from := q.Get("from"); q.Get("mount") != "" && from != "" && from != rt.name && reference.ValidRepository(from) {
			d.mountFrom = &access{Type: "repository", Name: from, Actions: []string{"pull"}}
		}
	}
	return d
}

// scopes lists every scope the request could use, for challenges.
func (d decision) scopes() []string {
	var out []string
	for _, a := range d.need {
		out = append(out, a.scope())
	}
	if d.mountFrom != nil {
		out = append(out, d.mountFrom.scope())
	}
	return out
}

// records lists the needed (resource, action) pairs for an error's detail.
func (d decision) records() []accessRecord {
	var out []accessRecord
	for _, a := range d.need {
		for _, act := range a.Actions {
			out = append(out, accessRecord{Type: a.Type, Name: a.Name, Action: act})
		}
	}
	return out
}

// action names what the request does, for the access log.
func (d decision) action() string {
	if len(d.need) == 0 {
		return ""
	}
	return strings.Join(d.need[0].Actions, ",")
}
