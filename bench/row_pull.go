package main

import (
	"encoding/binary"
	"fmt"
	"net/http"
	"path"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
)

// rowPull is row 2: the blob of row 1 fetched whole and as a Range, beside
// http.ServeContent of the very file the registry serves. Zero-copy is
// judged from the read and write syscalls the server made per MiB sent
// (/proc/<pid>/io): sendfile moves megabytes per call, a userspace copy
// needs dozens of calls per MiB.
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
	regURL := "/v2/" + blob.repo + "/blobs/" + blob.dgst
	limURL := b.limits.url + "/file?path=" + blobFile(blob.dgst)
	c := newRegClient(b.reg.URL(), b.adminToken, 1)
	buf := make([]byte, 1<<20)
	reps := 2*b.cfg.reps + 1 // transfers are short here: more of them for a stable median
	// Row 1 evicted the blob: read it into the page cache once, so every
	// GET below serves from memory.
	if _, err := c.get(limURL, "", buf); err != nil {
		return nil, err
	}
	rangeStart, rangeLen := blob.size/4, blob.size/2
	rng := fmt.Sprintf("bytes=%d-%d", rangeStart, rangeStart+rangeLen-1)

	type series struct {
		rates []float64
		calls int64
		bytes int64
	}
	var full, fullLim, part, partLim series
	measure := func(s *series, pid int, u, rng string) error {
		before, _ := readIO(pid)
		t := time.Now()
		n, err := c.get(u, rng, buf)
		el := time.Since(t)
		if err != nil {
			return err
		}
		after, _ := readIO(pid)
		s.rates = append(s.rates, mbps(n, el))
		s.calls += after.syscr - before.syscr + after.syscw - before.syscw
		s.bytes += n
		return nil
	}
	for range reps {
		for _, m := range []struct {
			s   *series
			pid int
			u   string
			rng string
		}{
			{&fullLim, b.limits.Pid(), limURL, ""},
			{&full, b.reg.Pid(), regURL, ""},
			{&partLim, b.limits.Pid(), limURL, rng},
			{&part, b.reg.Pid(), regURL, rng},
		} {
			if err := measure(m.s, m.pid, m.u, m.rng); err != nil {
				return nil, err
			}
		}
	}
	perMiB := func(s series) float64 { return float64(s.calls) / (float64(s.bytes) / (1 << 20)) }
	mk := func(id, what string, s, lim series) result {
		fig, l := median(s.rates), median(lim.rates)
		zeroCopy := perMiB(s) <= 2*perMiB(lim)+2
		zc := "zero-copy"
		if !zeroCopy {
			zc = "NOT zero-copy"
		}
		return result{
			row: id, what: what,
			figure:  fmt.Sprintf("%.0f MB/s, %s (%.1f syscalls/MiB)", fig, zc, perMiB(s)),
			limit:   fmt.Sprintf("%.0f MB/s, http.ServeContent (%.1f syscalls/MiB)", l, perMiB(lim)),
			ratio:   pct(fig / l),
			target:  "≥ 95 %, zero-copy",
			verdict: judge(fig >= 0.95*l && zeroCopy),
		}
	}
	r1 := mk("2a", fmt.Sprintf("blob pull, %d MiB GET", blob.size>>20), full, fullLim)
	r1.note = fmt.Sprintf("Median of %d GETs each, one connection, token auth, client reading 1 MiB at a time into nothing; runs (MB/s): GET %s (limit %s), Range %s (limit %s). Zero-copy means at most twice the limit's read+write syscalls per MiB, plus 2.",
		reps, fmtList(full.rates), fmtList(fullLim.rates), fmtList(part.rates), fmtList(partLim.rates))
	r2 := mk("2b", fmt.Sprintf("blob pull, Range of %d MiB", rangeLen>>20), part, partLim)
	b.pullRate = median(full.rates)
	return []result{r1, r2}, nil
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
