package regserver

import (
	"fmt"
	"net/http"

	"github.com/wharf-registry/wharf/pkg/acl"
	"github.com/wharf-registry/wharf/pkg/storage"
	"github.com/wharf-registry/wharf/pkg/token"
)

// catalogList is the body of a catalog listing.
type catalogList struct {
	Repositories []string `json:"repositories"`
}

// catalog lists repositories holding at least one manifest, n at a time
// after last, in lexical order. It needs registry:catalog:* with tokens.
// https://distribution.github.io/distribution/spec/api/#listing-repositories
//
// The filtered catalog: a token from our token server carries the
// bearer's pull rules (token.PullClaim), narrowed to its account, service
// and address; then only the names they grant pull on are listed, and the
// claim alone admits the request (auth.go). Without the claim (tokens of
// stock docker_auth) the token's registry:catalog:* grant decides and the
// whole catalog is listed, as registry:2 does; so it is in htpasswd mode
// and without auth. Filtering happens inside the walk, so pages stay full
// and Link appears only when another allowed name follows.
func (s *Server) catalog(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	n, err := pageSize(q)
	if err != nil {
		return err
	}
	var filter storage.CatalogFilter
	if pull := apiRequestFrom(r.Context()).id.pull; pull != nil {
		filter = pullFilter{pull}
	}
	repos, more, err := s.store.CatalogFiltered(r.Context(), q.Get("last"), n, filter)
	if err != nil {
		return err
	}
	if repos == nil {
		repos = []string{}
	}
	if more && len(repos) > 0 {
		s.nextLink(w, "/v2/_catalog", repos[len(repos)-1], n)
	}
	return writeJSON(w, http.StatusOK, jsonContentType, catalogList{Repositories: repos})
}

// isCatalog reports whether a is the catalog's access.
func isCatalog(a access) bool { return a.Type == "registry" && a.Name == "catalog" }

// compilePull compiles a token's pull rules as an ACL of name conditions.
// A rule that does not compile makes the token invalid: it was signed by a
// trusted issuer, but a list we cannot read must not list anything.
func compilePull(rules []token.PullRule) (*acl.ACL, error) {
	entries := make([]acl.Entry, len(rules))
	for i, r := range rules {
		actions := r.Actions
		if actions == nil {
			actions = []string{}
		}
		entries[i] = acl.Entry{Match: &acl.Match{Name: r.Name}, Actions: &actions}
	}
	a, err := acl.Compile(entries)
	if err != nil {
		return nil, fmt.Errorf("%s claim: %w", token.PullClaim, err)
	}
	return a, nil
}

// pullFilter lists the names a token's narrowed pull rules grant pull on,
// first match wins, and skips the directories where none can.
type pullFilter struct{ rules *acl.ACL }

func (f pullFilter) Keep(name string) bool {
	d := f.rules.Authorize(acl.Request{Type: "repository", Name: name, Actions: []string{"pull"}})
	return len(d.Actions) > 0
}

func (f pullFilter) MayKeepBelow(prefix string) bool { return f.rules.MayPullBelow(prefix) }
