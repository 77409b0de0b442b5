package main

import (
	"encoding/binary"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
)

// rowPull is row 2: the blob of row 1 fetched whole, as a Range, and by 8
// clients at once, beside the two ways a bare Go server can send the very
// file the registry serves (http.ServeContent, which uses sendfile, and
// io.CopyBuffer with a 256 KiB buffer, which copies through user space),
// the better of which is the limit, and beside each peer serving the same
// file. Every round runs each source once, the order rotated.
func (b *bench) rowPull() ([]result, error) {
	if b.bigBlob.dgst == "" {
		data := b.data[:b.cfg.blobMiB<<20]
		d := digest.FromBytes(data)
		c := newRegClient(b.reg.URL(), b.adminToken, 1)
		if _, err := c.pushMonolithic("bench/push", data, d); err != nil {
			return nil, err
		}
		b.bigBlob = blobRef{repo: "bench/push", dgst: d.String(), size: int64(len(data))}
	}
	blob := b.bigBlob
	regPath := "/v2/" + blob.repo + "/blobs/" + blob.dgst
	const streams = 8
	type source struct {
		name       string
		c          *regClient
		u          string
		pid        int
		full, part []float64
		par        []float64
		curl       []float64
		calls      int64 // read+write syscalls of the server, full GETs
		bytes      int64
	}
	lim := func(name, endpoint string) *source {
		return &source{name: name, c: newRegClient("", "", streams), u: b.limits.url + endpoint + "?path=" + blobFile(blob.dgst), pid: b.limits.Pid()}
	}
	limSC, limCopy := lim("http.ServeContent", "/file"), lim("io.CopyBuffer 256 KiB", "/copy")
	ours := &source{name: "ours", c: newRegClient(b.reg.URL(), b.adminToken, streams), u: regPath, pid: b.reg.Pid()}
	sources := []*source{limSC, limCopy, ours}
	peerSrc := map[*peer]*source{}
	for _, p := range b.running() {
		if !p.sharesStore() {
			if err := b.copyBlobTo(p, blob); err != nil {
				return nil, err
			}
		}
		s := &source{name: p.name, c: newRegClient(p.open.URL(), "", streams), u: regPath, pid: p.open.Pid()}
		peerSrc[p] = s
		sources = append(sources, s)
	}
	buf := make([]byte, 1<<20)
	// Row 1 evicted the blob: read it into the page cache once, so every
	// GET below serves from memory.
	for _, s := range sources {
		if _, err := s.c.get(s.u, "", buf); err != nil {
			return nil, fmt.Errorf("%s: %v", s.name, err)
		}
	}
	rangeStart, rangeLen := blob.size/4, blob.size/2
	rng := fmt.Sprintf("bytes=%d-%d", rangeStart, rangeStart+rangeLen-1)
	reps := 2*b.cfg.reps + 1 // transfers are short here: more of them for a stable median
	_, curlErr := exec.LookPath("curl")
	haveCurl := curlErr == nil
	if !haveCurl {
		fmt.Fprintln(b.log, "row 2d skipped: no curl on PATH (apt-get install curl)")
	}
	for i := range reps {
		for j := range sources {
			s := sources[(i+j)%len(sources)]
			before, _ := readIO(s.pid)
			t := time.Now()
			n, err := s.c.get(s.u, "", buf)
			el := time.Since(t)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", s.name, err)
			}
			after, _ := readIO(s.pid)
			s.full = append(s.full, mbps(n, el))
			s.calls += after.syscr - before.syscr + after.syscw - before.syscw
			s.bytes += n
			t = time.Now()
			n, err = s.c.get(s.u, rng, buf)
			if err != nil {
				return nil, fmt.Errorf("%s, Range: %v", s.name, err)
			}
			s.part = append(s.part, mbps(n, time.Since(t)))
			if i < b.cfg.reps {
				rate, err := parallelGet(s.c, s.u, streams)
				if err != nil {
					return nil, fmt.Errorf("%s, %d at once: %v", s.name, streams, err)
				}
				s.par = append(s.par, rate)
				if haveCurl {
					rate, err := curlGet(s.c, s.u)
					if err != nil {
						return nil, fmt.Errorf("%s, curl: %v", s.name, err)
					}
					s.curl = append(s.curl, rate)
				}
			}
		}
	}
	perMiB := func(s *source) float64 { return float64(s.calls) / (float64(s.bytes) / (1 << 20)) }
	// best is the faster bare candidate for a series.
	best := func(series func(*source) []float64) (float64, *source) {
		a, c := median(series(limSC)), median(series(limCopy))
		if c > a {
			return c, limCopy
		}
		return a, limSC
	}
	mk := func(id, what string, series func(*source) []float64) result {
		fig := median(series(ours))
		l, winner := best(series)
		other := limSC
		if winner == limSC {
			other = limCopy
		}
		return result{
			row: id, what: what,
			figure:  fmt.Sprintf("%.0f MB/s", fig),
			limit:   fmt.Sprintf("%.0f MB/s, %s (%s: %.0f)", l, winner.name, other.name, median(series(other))),
			ratio:   pct(fig / l),
			target:  "≥ 90 % of the better bare server",
			verdict: judge(fig >= 0.9*l),
		}
	}
	fullOf := func(s *source) []float64 { return s.full }
	partOf := func(s *source) []float64 { return s.part }
	parOf := func(s *source) []float64 { return s.par }
	r1 := mk("2a", fmt.Sprintf("blob pull, %d MiB GET", blob.size>>20), fullOf)
	r1.figure += fmt.Sprintf(" (%.1f syscalls/MiB)", perMiB(ours))
	r1.note = fmt.Sprintf("Median of %d GETs each (%d for 2c), one connection, token auth, client reading 1 MiB at a time into nothing; the limit is the better of two bare servers sending the same file: http.ServeContent of the *os.File (sendfile; %.1f syscalls/MiB) and io.CopyBuffer with a 256 KiB buffer (%.1f syscalls/MiB). Runs (MB/s): GET %s (ServeContent %s; CopyBuffer %s), Range %s (ServeContent %s; CopyBuffer %s).",
		reps, b.cfg.reps, perMiB(limSC), perMiB(limCopy), fmtList(ours.full), fmtList(limSC.full), fmtList(limCopy.full), fmtList(ours.part), fmtList(limSC.part), fmtList(limCopy.part))
	r2 := mk("2b", fmt.Sprintf("blob pull, Range of %d MiB", rangeLen>>20), partOf)
	r3 := mk("2c", fmt.Sprintf("blob pull, %d MiB GET by %d clients at once", blob.size>>20, streams), parOf)
	r3.note = fmt.Sprintf("%d connections each GETting the whole blob at once; the figure is all bytes over the time until the last finished. Runs (MB/s): %s (ServeContent %s; CopyBuffer %s).", streams, fmtList(ours.par), fmtList(limSC.par), fmtList(limCopy.par))
	out := []result{r1, r2, r3}
	if haveCurl {
		r4 := mk("2d", fmt.Sprintf("blob pull, %d MiB GET with curl", blob.size>>20), func(s *source) []float64 { return s.curl })
		r4.note = fmt.Sprintf("curl -o /dev/null, a new process and connection each GET, rate = size_download / time_total, %d runs each: %s (ServeContent %s; CopyBuffer %s).", b.cfg.reps, fmtList(ours.curl), fmtList(limSC.curl), fmtList(limCopy.curl))
		out = append(out, r4)
	}
	b.pullRate = median(ours.full)

	cs := []*comparison{
		b.peerCompare("2a", r1.what, "MB/s", median(ours.full), 1.1).zotToo(1.0),
		b.peerCompare("2b", r2.what, "MB/s", median(ours.part), 0),
		b.peerCompare("2c", r3.what, "MB/s", median(ours.par), 1.1).zotToo(1.0),
	}
	if haveCurl {
		cs = append(cs, b.peerCompare("2d", out[3].what, "MB/s", median(ours.curl), 1.1).zotToo(1.0))
	}
	var runs []string
	for p, s := range peerSrc {
		cs[0].peers[p.name], cs[1].peers[p.name], cs[2].peers[p.name] = median(s.full), median(s.part), median(s.par)
		if haveCurl {
			cs[3].peers[p.name] = median(s.curl)
		}
		runs = append(runs, fmt.Sprintf("%s GET %s, Range %s, %d at once %s, curl %s (%.1f syscalls/MiB)", p.name, fmtList(s.full), fmtList(s.part), streams, fmtList(s.par), fmtList(s.curl), perMiB(s)))
	}
	slices.Sort(runs)
	cs[0].note = fmt.Sprintf("The GETs of row 2, each peer taking its turn with ours and the limits (order rotated every round), the peers with auth off; ours with token auth. Runs (MB/s): %s.", strings.Join(runs, "; "))
	b.comparisons = append(b.comparisons, cs...)
	return out, nil
}

// parallelGet fetches u on n connections at once and returns the
// aggregate rate.
func parallelGet(c *regClient, u string, n int) (float64, error) {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		total    int64
		firstErr error
	)
	start := time.Now()
	for range n {
		wg.Go(func() {
			got, err := c.get(u, "", make([]byte, 1<<20))
			mu.Lock()
			defer mu.Unlock()
			total += got
			if err != nil && firstErr == nil {
				firstErr = err
			}
		})
	}
	wg.Wait()
	return mbps(total, time.Since(start)), firstErr
}

// curlGet fetches u with curl into /dev/null, as the issue measured,
// and returns curl's own figure: bytes over time_total.
func curlGet(c *regClient, u string) (float64, error) {
	if strings.HasPrefix(u, "/") {
		u = c.base + u
	}
	args := []string{"-sS", "-o", "/dev/null", "-w", "%{http_code} %{size_download} %{time_total}", u}
	if c.token != "" {
		args = append(args, "-H", "Authorization: Bearer "+c.token)
	}
	out, err := exec.Command("curl", args...).Output()
	if err != nil {
		return 0, err
	}
	var code int
	var size, secs float64
	if _, err := fmt.Sscanf(string(out), "%d %g %g", &code, &size, &secs); err != nil || code != http.StatusOK || secs <= 0 {
		return 0, fmt.Errorf("curl printed %q (%v)", out, err)
	}
	return size / 1e6 / secs, nil
}

// copyBlobTo pushes a blob of our store to a peer with a store of its own.
func (b *bench) copyBlobTo(p *peer, blob blobRef) error {
	data, err := os.ReadFile(filepath.Join(b.dir, blobFile(blob.dgst)))
	if err != nil {
		return err
	}
	_, err = newRegClient(p.open.URL(), "", 1).pushMonolithic(blob.repo, data, digest.Digest(blob.dgst))
	return err
}

// blobFile is where a blob's data lives, relative to the scratch directory.
func blobFile(dgst string) string {
	d := digest.Digest(dgst)
	hex := d.Encoded()
	return path.Join("store/docker/registry/v2/blobs", d.Algorithm().String(), hex[:2], hex, "data")
}

// rowParallelPulls is row 9: many clients pulling one blob at once. The
// limit is row 2's single-stream figure; the aggregate must not fall below
// it.
func (b *bench) rowParallelPulls() ([]result, error) {
	size := b.cfg.parallelBlobMiB << 20
	data := b.data[:size]
	saved := binary.BigEndian.Uint64(data)
	binary.BigEndian.PutUint64(data, 0x9a11e1)
	d := digest.FromBytes(data)
	c := newRegClient(b.reg.URL(), b.adminToken, b.cfg.pulls)
	_, err := c.pushMonolithic("bench/push", data, d)
	binary.BigEndian.PutUint64(data, saved)
	if err != nil {
		return nil, err
	}
	limit := b.pullRate
	if limit == 0 {
		if _, err := b.rowPull(); err != nil {
			return nil, err
		}
		limit = b.pullRate
	}
	u := "/v2/bench/push/blobs/" + d.String()
	// Connections first, so the figure is about serving, not dialing.
	warm := &sync.WaitGroup{}
	for range b.cfg.pulls {
		warm.Go(func() {
			resp, err := c.do(http.MethodHead, u, nil, 0, nil)
			expect(resp, err, http.StatusOK)
		})
	}
	warm.Wait()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		errs     int
		firstErr error
		total    int64
	)
	start := time.Now()
	for range b.cfg.pulls {
		wg.Go(func() {
			n, err := c.get(u, "", make([]byte, 256<<10))
			mu.Lock()
			defer mu.Unlock()
			total += n
			if err != nil {
				errs++
				if firstErr == nil {
					firstErr = err
				}
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	fig := mbps(total, el)
	r := result{
		row: "9", what: fmt.Sprintf("%d parallel pulls of one %d MiB blob", b.cfg.pulls, b.cfg.parallelBlobMiB),
		figure:  fmt.Sprintf("%.0f MB/s aggregate, %d errors", fig, errs),
		limit:   fmt.Sprintf("%.0f MB/s (row 2a, one stream)", limit),
		ratio:   pct(fig / limit),
		target:  "no errors, ≥ 100 %",
		verdict: judge(errs == 0 && fig >= limit),
		note:    fmt.Sprintf("%d bytes in %.2f s, token auth, one connection per pull, all opened before the clock starts.", total, el.Seconds()),
	}
	if firstErr != nil {
		r.note += " First error: " + firstErr.Error()
	}
	return []result{r}, nil
}
