package ui

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// tagsPerPage is how many tags a repository page shows.
const tagsPerPage = 50

// dateSortLimit bounds sorting by date, which needs every tag's config.
const dateSortLimit = 500

// maxIndexChildren bounds the platform manifests read for one index row.
const maxIndexChildren = 16

// tagRow is one tag on a repository page.
type tagRow struct {
	Tag       string
	Digest    string
	MediaType string
	Size      int64 // config and layers; for an index, of all its platforms
	Created   time.Time
	Platforms []string
	Problem   string
}

type repoData struct {
	Name      string
	Sort      string
	Rows      []tagRow
	Total     int
	Page      int
	Pages     int
	CanDelete bool
	Note      string
}

// repository lists a repository's tags with digest, size, created and
// platforms, sorted by name, semver or date, a page at a time.
func (s *Server) repository(w http.ResponseWriter, r *http.Request, v *view) error {
	name, err := repoName(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	d := repoData{Name: name, Sort: q.Get("sort")}
	if d.Sort != "semver" && d.Sort != "date" {
		d.Sort = "name"
	}
	call := s.call(v)
	tags, err := call.tags(r.Context(), name)
	if err != nil {
		return err
	}
	if d.CanDelete, err = s.mayDelete(r.Context(), call, name); err != nil {
		return err
	}
	d.Total = len(tags)
	d.Pages = max(1, (len(tags)+tagsPerPage-1)/tagsPerPage)
	d.Page, _ = strconv.Atoi(q.Get("page"))
	d.Page = min(max(d.Page, 1), d.Pages)

	var rows []tagRow
	switch d.Sort {
	case "date":
		if len(tags) > dateSortLimit {
			d.Note = "Too many tags to sort by date; sorted by name instead."
			d.Sort = "name"
			break
		}
		for _, t := range tags {
			rows = append(rows, s.tagDetail(r.Context(), call, name, t, true))
		}
		slices.SortStableFunc(rows, func(a, b tagRow) int { return b.Created.Compare(a.Created) })
	case "semver":
		slices.SortStableFunc(tags, compareSemver)
	}
	if rows == nil {
		if d.Sort == "name" {
			slices.Sort(tags)
		}
		for _, t := range pageOf(tags, d.Page) {
			rows = append(rows, s.tagDetail(r.Context(), call, name, t, true))
		}
	} else {
		rows = pageOf(rows, d.Page)
	}
	d.Rows = rows
	v.Title, v.Data = name, d
	s.render(w, http.StatusOK, "repository.html", v)
	return nil
}

func pageOf[T any](all []T, page int) []T {
	lo := min((page-1)*tagsPerPage, len(all))
	return all[lo:min(lo+tagsPerPage, len(all))]
}

// mayDelete reports whether the UI should offer deletion in name.
func (s *Server) mayDelete(ctx context.Context, call *regCall, name string) (bool, error) {
	if !s.deletion {
		return false, nil
	}
	return call.canDelete(ctx, name)
}

// tagDetail reads what a row shows about one tag. A failure is kept in the
// row (the tag may have gone since the list was read), not the page's.
// created says whether to read the image config for the date.
func (s *Server) tagDetail(ctx context.Context, call *regCall, name, tag string, created bool) tagRow {
	row := tagRow{Tag: tag}
	doc, err := call.manifest(ctx, name, tag)
	if err != nil {
		row.Problem = explain(err).Title
		return row
	}
	row.Digest, row.MediaType = doc.Digest, doc.MediaType
	if doc.Image != nil {
		row.Size = imageSize(doc.Image)
		if created {
			if cfg, err := call.config(ctx, name, doc.Image); err == nil && cfg != nil {
				row.Platforms = []string{platformOf(cfg.Platform)}
				if cfg.Created != nil {
					row.Created = *cfg.Created
				}
			}
		}
		return row
	}
	for i, m := range doc.Index.Manifests {
		if m.Platform == nil || m.Platform.OS == "unknown" {
			continue // attestations and other non-platform entries
		}
		row.Platforms = append(row.Platforms, platformOf(*m.Platform))
		if i >= maxIndexChildren {
			continue
		}
		child, err := call.manifest(ctx, name, m.Digest.String())
		if err != nil || child.Image == nil {
			continue
		}
		row.Size += imageSize(child.Image)
		if created && row.Created.IsZero() {
			if cfg, err := call.config(ctx, name, child.Image); err == nil && cfg != nil && cfg.Created != nil {
				row.Created = *cfg.Created
			}
		}
	}
	return row
}

func platformOf(p ocispec.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// compareSemver orders tags by semantic version (an optional "v", up to
// three numbers, a pre-release after "-"), highest first; tags that are
// not versions come after, by name.
func compareSemver(a, b string) int {
	va, oka := parseSemver(a)
	vb, okb := parseSemver(b)
	switch {
	case oka && okb:
		for i := range 3 {
			if c := cmp.Compare(vb.nums[i], va.nums[i]); c != 0 {
				return c
			}
		}
		// A release sorts above its pre-releases.
		switch {
		case va.pre == "" && vb.pre != "":
			return -1
		case va.pre != "" && vb.pre == "":
			return 1
		}
		return strings.Compare(vb.pre, va.pre)
	case oka:
		return -1
	case okb:
		return 1
	}
	return strings.Compare(a, b)
}

type semver struct {
	nums [3]int
	pre  string
}

func parseSemver(tag string) (semver, bool) {
	var v semver
	core, pre, _ := strings.Cut(strings.TrimPrefix(tag, "v"), "-")
	v.pre = pre
	parts := strings.Split(core, ".")
	if len(parts) > 3 {
		return v, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return v, false
		}
		v.nums[i] = n
	}
	return v, true
}
