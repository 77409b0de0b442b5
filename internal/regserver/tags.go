package regserver

import (
	"net/http"
	"net/url"
	"strconv"
)

// maxPage caps n on tags and catalog listings, and is the page size when
// the client gives none.
const maxPage = 1000

// pageSize reads the n parameter: absent means maxPage, larger values
// (however large) are capped, anything but digits is 400
// PAGINATION_NUMBER_INVALID.
func pageSize(q url.Values) (int, error) {
	s := q.Get("n")
	if s == "" {
		return maxPage, nil
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, errorf(http.StatusBadRequest, codePaginationInvalid, "n must be a non-negative integer, got %q", s)
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil { // out of range: a huge page
		return maxPage, nil
	}
	return min(n, maxPage), nil
}

// nextLink sets the Link header pointing at the page after last.
func (s *Server) nextLink(w http.ResponseWriter, path, last string, n int) {
	q := url.Values{"last": {last}, "n": {strconv.Itoa(n)}}
	w.Header().Set("Link", "<"+s.url(path)+"?"+q.Encode()+`>; rel="next"`)
}

// tagList is the body of a tags listing.
type tagList struct {
	Name string   `json:"name"`
	Tags []string `json:"tags"`
}

// tags lists a repository's tags, n at a time after last, in lexical order.
// https://github.com/opencontainers/distribution-spec/blob/main/spec.md#listing-tags
func (s *Server) tags(w http.ResponseWriter, r *http.Request) error {
	rt := apiRequestFrom(r.Context()).route
	q := r.URL.Query()
	n, err := pageSize(q)
	if err != nil {
		return err
	}
	tags, more, err := s.tagList(r.Context(), rt.name, q.Get("last"), n)
	if err != nil {
		return err
	}
	if tags == nil {
		tags = []string{}
	}
	if more && len(tags) > 0 {
		s.nextLink(w, "/v2/"+rt.name+"/tags/list", tags[len(tags)-1], n)
	}
	return writeJSON(w, http.StatusOK, jsonContentType, tagList{Name: rt.name, Tags: tags})
}
