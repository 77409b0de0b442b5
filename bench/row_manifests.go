package main

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
)

// Closed-loop rows measure the figure and its limit in this many
// alternating slices, after this much warm-up each.
const (
	rounds = 10
	warmup = 500 * time.Millisecond
)

const ociManifest = "application/vnd.oci.image.manifest.v1+json"

// manifestAccept is what docker sends when it pulls.
const manifestAccept = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.index.v1+json, " + ociManifest

// pushImage pushes a small image (a config, one layer, an OCI manifest)
// to repo:tag and returns the manifest digest.
func pushImage(c *regClient, repo, tag string, seed uint64) (digest.Digest, error) {
	layer := make([]byte, 4096)
	fillRandom(layer, seed)
	return pushImageLayer(c, repo, tag, layer)
}

// rowManifests is row 3: HEAD and GET of a manifest by tag with a bearer
// token, against the same requests to the same registry over the same
// store with auth off.
func (b *bench) rowManifests() ([]result, error) {
	open := newRegClient(b.open.URL(), "", 1)
	if _, err := pushImage(open, "bench/app", "latest", 3); err != nil {
		return nil, err
	}
	t, _, err := fetchToken(b.auth.URL(), &b.files.ci, false, "repository:bench/app:pull")
	if err != nil {
		return nil, err
	}
	// Each peer checks the same token: kind registry through the same
	// rootcertbundle, zot with the signing certificate.
	type tokenPeer struct {
		p    *peer
		proc *proc
	}
	var tps []tokenPeer
	defer func() {
		for _, tp := range tps {
			tp.proc.stop()
		}
	}()
	for _, p := range b.running() {
		pr, err := b.startPeer(p, "token", b.auth.URL()+"/auth")
		if err != nil {
			return nil, fmt.Errorf("peer %s with token auth: %v", p.name, err)
		}
		tps = append(tps, tokenPeer{p, pr})
		if !p.sharesStore() {
			if _, err := pushImage(newRegClient(pr.URL(), b.adminToken, 1), "bench/app", "latest", 3); err != nil {
				return nil, fmt.Errorf("peer %s: %v", p.name, err)
			}
		}
	}
	var out []result
	for i, method := range []string{http.MethodHead, http.MethodGet} {
		load := func(base, token string) *loader {
			u := base + "/v2/bench/app/manifests/latest"
			return newLoader(b.cfg.conns, func(c *http.Client, _ int) error {
				req, _ := http.NewRequest(method, u, nil)
				req.Header.Set("Accept", manifestAccept)
				if token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				resp, err := c.Do(req)
				return expect(resp, err, http.StatusOK)
			})
		}
		figL, limL := load(b.reg.URL(), t.Token), load(b.open.URL(), t.Token)
		cpuFig, cpuLim := cpuTime(b.reg.Pid()), cpuTime(b.open.Pid())
		loaders := []*loader{figL, limL}
		for _, tp := range tps {
			loaders = append(loaders, load(tp.proc.URL(), t.Token))
		}
		res := rotated(loaders, warmup, b.cfg.dur, rounds)
		fig, lim := res[0], res[1]
		cpuFig, cpuLim = cpuTime(b.reg.Pid())-cpuFig, cpuTime(b.open.Pid())-cpuLim
		cmp := b.peerCompare(fmt.Sprintf("3%c", 'a'+i), fmt.Sprintf("manifest %s by tag, same bearer token, %d connections", method, b.cfg.conns), "req/s", fig.rate(), 1.5)
		var p99s []string
		for k, tp := range tps {
			r := res[2+k]
			if err := firstError(r); err != nil {
				return out, fmt.Errorf("peer %s: %v", tp.p.name, err)
			}
			cmp.peers[tp.p.name] = r.rate()
			p99s = append(p99s, fmt.Sprintf("%s p99 %s", tp.p.name, ms(r.p99())))
		}
		cmp.note = fmt.Sprintf("Closed loop as in row 3, every peer checking the very token ours checks (kind registry: its x5c chain against the same rootcertbundle; zot: against the signing certificate), the order rotated every slice; ours p99 %s, %s.", ms(fig.p99()), strings.Join(p99s, ", "))
		b.comparisons = append(b.comparisons, cmp)
		perReq := func(cpu time.Duration, l *loader) float64 {
			return float64(cpu.Microseconds()) / float64(max(l.total.Load(), 1))
		}
		cpuNote := fmt.Sprintf("Server CPU per %s: %.0f µs with the token, %.0f µs with auth off.", method, perReq(cpuFig, figL), perReq(cpuLim, limL))
		if err := firstError(fig, lim); err != nil {
			return out, err
		}
		r := result{
			row: fmt.Sprintf("3%c", 'a'+i), what: fmt.Sprintf("manifest %s by tag, bearer token, %d connections", method, b.cfg.conns),
			figure:  rateP99(fig, "req/s"),
			limit:   rateP99(lim, "req/s") + ", auth off",
			ratio:   pct(fig.rate() / lim.rate()),
			target:  "≥ 90 %",
			verdict: judge(fig.rate() >= 0.9*lim.rate()),
		}
		r.note = cpuNote
		if i == 0 {
			r.note = fmt.Sprintf("Closed loop: %d connections each sending the next request when the last was answered; %.1f s each, in %d alternating slices after a warm-up. Auth off is a second registry process on the same store, sent the very same requests (the Authorization header included, which it ignores), so the ratio is the cost of checking the token; access log on in both. The token is %d bytes: its header carries the signing certificate (x5c), as registries verifying through rootcertbundle expect. ",
				b.cfg.conns, b.cfg.dur.Seconds(), rounds, len(t.Token)) + cpuNote
		}
		out = append(out, r)
	}
	return out, nil
}

// rateP99 renders a load figure.
func rateP99(r loadResult, unit string) string {
	return fmt.Sprintf("%s %s, p99 %s", thousands(r.rate()), unit, ms(r.p99()))
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
}

// thousands renders a rate with a thousands separator.
func thousands(x float64) string {
	n := int64(x + 0.5)
	if n < 1000 {
		return fmt.Sprint(n)
	}
	return fmt.Sprintf("%d,%03d", n/1000, n%1000)
}

// firstError reports a load run that had failed requests.
func firstError(runs ...loadResult) error {
	for _, r := range runs {
		if r.errors > 0 {
			return fmt.Errorf("%d of %d requests failed, first: %v", r.errors, r.errors+r.requests, r.firstErr)
		}
		if r.requests == 0 {
			return fmt.Errorf("no request completed")
		}
	}
	return nil
}
