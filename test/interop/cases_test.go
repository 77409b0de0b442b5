package interop

import (
	"bytes"
	"slices"
	"sync"

	"github.com/sirupsen/logrus"
)

// tokenCase is one token request and the access it must grant. grant is
// written out here, not read from the token, so a wrong grant fails.
type tokenCase struct {
	name   string
	user   string // "" is anonymous
	scopes []string
	grant  map[resource][]string
	oauth2 bool // asked for with the OAuth2 POST form (containerd, buildkit), not GET
	// pull is the wharf_pull claim the token must carry (pull.go), as
	// JSON; "" when it must carry none. Stock verifiers ignore it.
	pull string
}

// resource is a type and name, as the stock access sets key them.
type resource struct{ typ, name string }

var (
	app      = resource{"repository", "app"}
	private  = resource{"repository", "private/x"}
	catalog  = resource{"registry", "catalog"}
	anything = []string{"*"}
)

var tokenCases = []tokenCase{
	{name: "login", user: "admin"}, // docker login: no scope, access []
	{name: "admin-pull-push", user: "admin", scopes: []string{"repository:app:pull,push"},
		grant: map[resource][]string{app: {"pull", "push"}}},
	{name: "reader-partial", user: "reader", scopes: []string{"repository:app:pull,push"},
		grant: map[resource][]string{app: {"pull"}}},
	{name: "reader-empty", user: "reader", scopes: []string{"repository:private/x:pull"}},
	{name: "anonymous", user: "", scopes: []string{"repository:app:pull"}},
	{name: "admin-catalog", user: "admin", scopes: []string{"registry:catalog:*"},
		grant: map[resource][]string{catalog: anything}, pull: `[{"actions":["pull"]}]`},
	// The filtered catalog's token for an account the ACL grants nothing
	// on the catalog: the claim lets our registry list what it may pull;
	// a stock registry, which ignores the claim, still refuses it.
	{name: "reader-catalog", user: "reader", scopes: []string{"registry:catalog:*"},
		pull: `[{"name":"app","actions":["pull"]}]`},
	{name: "admin-two-scopes", user: "admin", scopes: []string{"repository:app:pull", "repository:private/x:delete"},
		grant: map[resource][]string{app: {"pull"}, private: {"delete"}}},
	{name: "reader-oauth2-post", user: "reader", scopes: []string{"repository:app:pull,push"}, oauth2: true,
		grant: map[resource][]string{app: {"pull"}}},
}

// item is one (resource, action) pair a request needs.
type item struct {
	resource
	action string
}

// probe is one registry request and the access items the stock registry
// asks its access controller for (handlers/app.go appendAccessRecords and
// appendCatalogAccessRecord, identical in v2.8.3 and v3.1.1).
type probe struct {
	request string
	needs   []item
}

var probes = []probe{
	{"GET /v2/", nil},
	{"GET /v2/app/manifests/1", []item{{app, "pull"}}},
	{"PUT /v2/app/manifests/1", []item{{app, "pull"}, {app, "push"}}},
	{"DELETE /v2/app/manifests/1", []item{{app, "delete"}}},
	{"GET /v2/private/x/tags/list", []item{{private, "pull"}}},
	{"DELETE /v2/private/x/manifests/1", []item{{private, "delete"}}},
	{"GET /v2/_catalog", []item{{catalog, "*"}}},
}

// allows reports whether grant covers every item p needs ("*" matches any
// action, as in both stock access sets).
func (c tokenCase) allows(p probe) bool {
	for _, it := range p.needs {
		acts := c.grant[it.resource]
		if !slices.Contains(acts, it.action) && !slices.Contains(acts, "*") {
			return false
		}
	}
	return true
}

// outcome is a stock access controller's answer to one request.
type outcome struct {
	granted   bool
	challenge string // WWW-Authenticate the stock registry would send on refusal
	log       string // what the stock code logged (its only record of why)
}

// stockVerifier is a stock registry's token access controller, set up from
// the options its config gives it.
type stockVerifier struct {
	name      string
	authorize func(raw string, needs []item) (outcome, error)
}

// logMu serialises captureLog: both stock packages log why they refuse a
// token through logrus's one standard logger.
var logMu sync.Mutex

// captureLog runs f with logrus's standard logger writing into a buffer and
// returns what was logged.
func captureLog(f func()) string {
	logMu.Lock()
	defer logMu.Unlock()
	var buf bytes.Buffer
	std := logrus.StandardLogger()
	old := std.Out
	std.SetOutput(&buf)
	defer std.SetOutput(old)
	f()
	return buf.String()
}
