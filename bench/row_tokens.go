package main

import (
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// docker_auth's rate on the machine, for reference.
const dockerAuthTokensPerSec = 25

// tokenTarget is the floor for cached and cheap issuance.
const tokenTarget = 5000

// tokenShare is issue 12's goal for the token server beside the bare
// handler answering the same bytes in the same run.
const tokenShare = 0.80

// rowTokenCached is row 4: a CI fleet asking again and again with the same
// Basic credentials (bcrypt cost 10), beside a bare handler returning the
// same JSON.
func (b *bench) rowTokenCached() ([]result, error) {
	query := "?" + url.Values{"service": {service}, "scope": {"repository:bench/app:pull"}}.Encode()
	_, body, err := fetchToken(b.auth.URL(), &b.files.ci, false, "repository:bench/app:pull")
	if err != nil {
		return nil, err
	}
	if err := b.limits.setToken(body); err != nil {
		return nil, err
	}
	// Both get the very same request, query and Authorization header
	// included: reading them is net/http's work, which the limit measures.
	ci := b.files.ci
	basic := func(u string) *loader {
		return newLoader(b.cfg.conns, func(c *http.Client, _ int) error {
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			req.SetBasicAuth(ci.name, ci.password)
			resp, err := c.Do(req)
			return expect(resp, err, http.StatusOK)
		})
	}
	figL, limL := basic(b.auth.URL()+"/auth"+query), basic(b.limits.url+"/token"+query)
	cpu := b.serverCPU(figL, limL)
	fig, lim := paired(figL, limL, warmup, b.cfg.dur, rounds)
	if err := firstError(fig, lim); err != nil {
		return nil, err
	}
	return []result{{
		row: "4", what: fmt.Sprintf("token issuance, same Basic credentials (bcrypt 10), %d connections", b.cfg.conns),
		figure:  rateP99(fig, "tokens/s"),
		limit:   rateP99(lim, "req/s") + " bare handler; docker_auth ~25/s",
		ratio:   pct(fig.rate() / lim.rate()),
		target:  "≥ 80 % of the bare handler (issue 12), ≥ 5,000 tokens/s",
		verdict: judge(fig.rate() >= tokenTarget && fig.rate() >= tokenShare*lim.rate()),
		note: fmt.Sprintf("GET /auth with Basic credentials and one pull scope, as `docker pull` sends it, %.1f s in %d slices alternating with the limit; %.0f× docker_auth's rate. The bare handler gets the very same request (query and Basic credentials) and answers the same bytes with the same headers. %s",
			b.cfg.dur.Seconds(), rounds, fig.rate()/dockerAuthTokensPerSec, cpu()),
	}}, nil
}

// tokenLoader is load on a token endpoint with GET, or POST with form.
func (b *bench) tokenLoader(method, u string, form url.Values) *loader {
	return newLoader(b.cfg.conns, func(c *http.Client, _ int) error {
		var resp *http.Response
		var err error
		if method == http.MethodPost {
			resp, err = c.Post(u, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
		} else {
			resp, err = c.Get(u)
		}
		return expect(resp, err, http.StatusOK)
	})
}

// rowTokenFresh is row 5: every request from a user the server has not
// seen, so each one pays bcrypt, beside bcrypt cost 10 on every core.
func (b *bench) rowTokenFresh() ([]result, error) {
	users := b.files.fresh
	if len(users) == 0 {
		return nil, fmt.Errorf("no fresh users were generated")
	}
	password := []byte("limit")
	hash, err := bcrypt.GenerateFromPassword(password, bcrypt.DefaultCost)
	if err != nil {
		return nil, err
	}
	var next atomic.Int64
	base := b.auth.URL() + "/auth?" + url.Values{"service": {service}, "scope": {"repository:bench/app:pull"}}.Encode()
	cpus := runtime.NumCPU()
	conns := 2 * cpus // enough to keep the server's bcrypt slots (one per core) busy
	fresh := newLoader(conns, func(c *http.Client, _ int) error {
		i := next.Add(1) - 1
		if int(i) >= len(users) {
			return errStop
		}
		req, _ := http.NewRequest(http.MethodGet, base, nil)
		req.SetBasicAuth(users[i].name, users[i].password)
		resp, err := c.Do(req)
		return expect(resp, err, http.StatusOK)
	})
	limit := newLoader(cpus, func(*http.Client, int) error {
		return bcrypt.CompareHashAndPassword(hash, password)
	})
	fig, lim := paired(fresh, limit, 0, b.cfg.freshDur, 4)
	if err := firstError(fig, lim); err != nil {
		return nil, err
	}
	if int(next.Load()) >= len(users) {
		return nil, fmt.Errorf("ran out of fresh users (%d)", len(users))
	}
	return []result{{
		row: "5", what: "token issuance, first-time credentials",
		figure:  rateP99(fig, "tokens/s"),
		limit:   fmt.Sprintf("%.1f/s bcrypt cost 10 on %d cores", lim.rate(), cpus),
		ratio:   pct(fig.rate() / lim.rate()),
		target:  "≥ 90 %",
		verdict: judge(fig.rate() >= 0.9*lim.rate()),
		note: fmt.Sprintf("%d connections, each request from a different user (all sharing one cost-10 hash, so every check misses the cache), %.1f s in 4 slices alternating with the limit: CompareHashAndPassword in %d goroutines in the harness.",
			conns, b.cfg.freshDur.Seconds(), cpus),
	}}, nil
}

// rowTokenRefreshAnon is row 6: tokens for a refresh token (the OAuth2
// POST docker and containerd use after login) and for anonymous pulls,
// beside the bare handler.
func (b *bench) rowTokenRefreshAnon() ([]result, error) {
	t, body, err := fetchToken(b.auth.URL(), &b.files.ci, true, "repository:bench/app:pull")
	if err != nil {
		return nil, err
	}
	if t.RefreshToken == "" {
		return nil, fmt.Errorf("no refresh token in %s", body)
	}
	if err := b.limits.setToken(body); err != nil {
		return nil, err
	}
	form := url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {t.RefreshToken}, "service": {service},
		"scope": {"repository:bench/app:pull"}, "client_id": {"wharfbench"}, "access_type": {"offline"},
	}
	anonQuery := "?" + url.Values{"service": {service}, "scope": {"repository:public/app:pull"}}.Encode()
	if _, _, err := fetchToken(b.auth.URL(), nil, false, "repository:public/app:pull"); err != nil {
		return nil, err
	}
	refreshL, limPostL := b.tokenLoader(http.MethodPost, b.auth.URL()+"/auth", form), b.tokenLoader(http.MethodPost, b.limits.url+"/token", form)
	cpuRefresh := b.serverCPU(refreshL, limPostL)
	refresh, limPost := paired(refreshL, limPostL, warmup, b.cfg.dur, rounds)
	refreshCPU := cpuRefresh()
	anonL, limGetL := b.tokenLoader(http.MethodGet, b.auth.URL()+"/auth"+anonQuery, nil), b.tokenLoader(http.MethodGet, b.limits.url+"/token"+anonQuery, nil)
	cpuAnon := b.serverCPU(anonL, limGetL)
	anon, limGet := paired(anonL, limGetL, warmup, b.cfg.dur, rounds)
	anonCPU := cpuAnon()
	if err := firstError(limPost, refresh, limGet, anon); err != nil {
		return nil, err
	}
	mk := func(id, what string, fig, lim loadResult) result {
		return result{
			row: id, what: what,
			figure:  rateP99(fig, "tokens/s"),
			limit:   rateP99(lim, "req/s") + " bare handler",
			ratio:   pct(fig.rate() / lim.rate()),
			target:  "≥ 80 % of the bare handler (issue 12), ≥ 5,000 tokens/s",
			verdict: judge(fig.rate() >= tokenTarget && fig.rate() >= tokenShare*lim.rate()),
		}
	}
	r1 := mk("6a", fmt.Sprintf("token issuance, refresh token (OAuth2 POST), %d connections", b.cfg.conns), refresh, limPost)
	r1.note = "The refresh grant is the POST form docker and containerd send after a login; anonymous is GET /auth with no credentials for a public repository. The bare handler gets the very same requests: it parses the same form for POST, and is sent the same query for GET. " + refreshCPU
	r2 := mk("6b", fmt.Sprintf("token issuance, anonymous, %d connections", b.cfg.conns), anon, limGet)
	r2.note = anonCPU
	return []result{r1, r2}, nil
}

// serverCPU starts counting the CPU time of the token server and of the
// limit process; the function it returns renders each per request that
// fig and lim answered meanwhile (warm-up included on both sides).
func (b *bench) serverCPU(fig, lim *loader) func() string {
	a0, l0 := cpuTime(b.auth.Pid()), cpuTime(b.limits.Pid())
	f0, n0 := fig.total.Load(), lim.total.Load()
	return func() string {
		per := func(cpu time.Duration, n int64) float64 { return float64(cpu.Microseconds()) / float64(max(n, 1)) }
		return fmt.Sprintf("Server CPU per request: %.1f µs the token server, %.1f µs the bare handler.",
			per(cpuTime(b.auth.Pid())-a0, fig.total.Load()-f0), per(cpuTime(b.limits.Pid())-l0, lim.total.Load()-n0))
	}
}
