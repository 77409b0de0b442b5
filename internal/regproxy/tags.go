package regproxy

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// CodeNameUnknown is the answer for a repository the upstream lacks.
const CodeNameUnknown = "NAME_UNKNOWN"

// Tags lists the tags of proxied repository name as registry:2's proxy
// does: the upstream's list, n after last, and the cached tags when the
// upstream cannot answer (it is down, slow, or refusing us). A 404 upstream
// is NAME_UNKNOWN.
func (p *Proxy) Tags(ctx context.Context, name, last string, n int) ([]string, bool, error) {
	u := p.upstreamOf(name)
	if u == nil {
		return p.store.Tags(ctx, name, last, n)
	}
	tags, more, err := p.remoteTags(ctx, u, name, last, n)
	var e *Error
	if errors.As(err, &e) && e.Status != http.StatusNotFound {
		p.metrics.upstreamError(u, err)
		p.logger.WarnContext(ctx, "proxy: listing cached tags: the upstream could not list them",
			"upstream", u.base, "repo", name, "err", err)
		return p.store.Tags(ctx, name, last, n)
	}
	return tags, more, err
}

func (p *Proxy) remoteTags(ctx context.Context, u *upstream, name, last string, n int) ([]string, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, manifestTimeout)
	defer cancel()
	q := url.Values{"n": {strconv.Itoa(n)}}
	if last != "" {
		q.Set("last", last)
	}
	resp, err := u.do(ctx, http.MethodGet, u.remoteName(name), "/tags/list?"+q.Encode(), nil)
	if err != nil {
		return nil, false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, false, u.statusError(resp, CodeNameUnknown)
	}
	var body struct {
		Tags []string `json:"tags"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&body); err != nil {
		return nil, false, u.unavailable(err)
	}
	// The upstream's next page, if any, is ours too: same n, after our last.
	return body.Tags, resp.Header.Get("Link") != "", nil
}
