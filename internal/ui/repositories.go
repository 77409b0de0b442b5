package ui

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/wharf-registry/wharf/pkg/reference"
)

// Page sizes: what a page shows by default and at most.
const (
	defaultPageSize = 25
	maxPageSize     = 100
)

// repoRow is one repository on the repositories page.
type repoRow struct {
	Name    string
	Tags    int
	Size    int64  // of the tag Sized, 0 when unknown
	Sized   string // the tag whose size is shown: latest, else the first
	Problem string // why the row is incomplete
}

type reposData struct {
	Q          string
	Rows       []repoRow
	Next       string // the last name of this page, when there are more
	N          int
	NotAllowed bool // the catalog is not listed for this account
}

// repositories is the catalog, searchable, a page at a time, with each
// repository's tag count and the size of its latest (or first) tag.
func (s *Server) repositories(w http.ResponseWriter, r *http.Request, v *view) error {
	q := r.URL.Query()
	d := reposData{Q: q.Get("q"), N: pageSize(q.Get("n"))}
	names, more, err := s.call(v).catalogPage(r.Context(), d.Q, q.Get("last"), d.N)
	var ae *apiError
	switch {
	case errors.As(err, &ae) && (ae.scope || ae.status == http.StatusForbidden):
		d.NotAllowed = true
	case err != nil:
		return err
	}
	if more && len(names) > 0 {
		d.Next = names[len(names)-1]
	}
	call := s.call(v)
	for _, name := range names {
		call.batch = append(call.batch, pullScope(name))
	}
	for _, name := range names {
		d.Rows = append(d.Rows, s.repoSummary(r.Context(), call, name))
	}
	v.Title, v.Data = "Repositories", d
	s.render(w, http.StatusOK, "repositories.html", v)
	return nil
}

func (s *Server) repoSummary(ctx context.Context, call *regCall, name string) repoRow {
	row := repoRow{Name: name}
	tags, err := call.tags(ctx, name)
	if err != nil {
		row.Problem = explain(err).Title
		return row
	}
	row.Tags = len(tags)
	if len(tags) == 0 {
		return row
	}
	row.Sized = tags[0]
	for _, t := range tags {
		if t == "latest" {
			row.Sized = t
		}
	}
	td := s.tagDetail(ctx, call, name, row.Sized, false)
	row.Size = td.Size
	if td.Problem != "" {
		row.Problem = td.Problem
	}
	return row
}

func pageSize(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return defaultPageSize
	}
	return min(n, maxPageSize)
}

// repoName reads and checks the name query parameter: it goes into API
// paths, so anything but a valid repository name stops here.
func repoName(r *http.Request) (string, error) {
	name := r.URL.Query().Get("name")
	if r.Method == http.MethodPost {
		name = r.PostFormValue("name")
	}
	if !reference.ValidRepository(name) {
		return "", &pageError{Status: http.StatusBadRequest, Title: "Invalid repository name",
			Msg: "That is not a valid repository name."}
	}
	return name, nil
}

// refParam reads and checks a tag or digest parameter.
func refParam(r *http.Request) (string, error) {
	ref := r.URL.Query().Get("ref")
	if r.Method == http.MethodPost {
		ref = r.PostFormValue("ref")
	}
	if _, err := reference.ParseDigest(ref); err != nil && !reference.ValidTag(ref) {
		return "", &pageError{Status: http.StatusBadRequest, Title: "Invalid tag or digest",
			Msg: "That is not a valid tag or digest."}
	}
	return ref, nil
}
