package regserver

import "net/http"

// catalogList is the body of a catalog listing.
type catalogList struct {
	Repositories []string `json:"repositories"`
}

// catalog lists repositories holding at least one manifest, n at a time
// after last, in lexical order. It needs registry:catalog:* with tokens.
// https://distribution.github.io/distribution/spec/api/#listing-repositories
func (s *Server) catalog(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	n, err := pageSize(q)
	if err != nil {
		return err
	}
	repos, more, err := s.store.Catalog(r.Context(), q.Get("last"), n)
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
