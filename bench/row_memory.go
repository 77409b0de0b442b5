package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"time"
)

// memTarget is row 8's bound on the registry's resident memory.
const memTarget = 100 << 20

// rowMemory is row 8: the registry's memory while four clients push and
// four pull big blobs at once. Blobs are streamed, so it should not grow
// with their size. The pulled blob is pushed first through the other
// registry process, and the figures come from a registry started for the
// row, so its peak (VmHWM) is this row's alone.
func (b *bench) rowMemory() ([]result, error) {
	size := int64(b.cfg.memBlobMiB) << 20
	open := newRegClient(b.open.URL(), "", 1)
	pullDigest, _, err := open.pushStream("bench/mem", io.LimitReader(randomReader(80), size))
	if err != nil {
		return nil, err
	}
	reg, err := b.startRegistry("registry-mem", b.storeRoot(), true)
	if err != nil {
		return nil, err
	}
	defer reg.stop()
	settle(reg.Pid())
	b.perfExtra(reg, "8")
	tok, _, err := fetchToken(b.auth.URL(), &b.files.admin, false, "repository:bench/mem:pull,push")
	if err != nil {
		return nil, err
	}
	before, err := readMemory(reg.Pid())
	if err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	peakc := sampleRSS(ctx, reg.Pid(), 50*time.Millisecond)
	c := newRegClient(reg.URL(), tok.Token, 8)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		moved    int64
	)
	done := func(n int64, err error) {
		mu.Lock()
		defer mu.Unlock()
		moved += n
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	start := time.Now()
	for i := range 4 {
		wg.Go(func() {
			_, n, err := c.pushStream("bench/mem", io.LimitReader(randomReader(uint64(81+i)), size))
			done(n, err)
		})
		wg.Go(func() {
			done(c.get("/v2/bench/mem/blobs/"+pullDigest.String(), "", make([]byte, 1<<20)))
		})
	}
	wg.Wait()
	el := time.Since(start)
	stop()
	peak := <-peakc
	after, err := readMemory(reg.Pid())
	if err != nil {
		return nil, err
	}
	if firstErr != nil {
		return nil, firstErr
	}
	what := fmt.Sprintf("memory: registry RSS, 4 pushes + 4 pulls of %d MiB at once", b.cfg.memBlobMiB)
	note := fmt.Sprintf("%.1f GB moved in %.1f s (%.0f MB/s together); RSS %s before, %s sampled peak, VmHWM %s after. Pushes are one streamed PATCH each (length unknown in advance) and a PUT; pulls read into nothing; token auth.",
		float64(moved)/1e9, el.Seconds(), mbps(moved, el), mib(before.rss), mib(peak), mib(after.hwm))
	if b.cfg.memBlobMiB < 1024 {
		note += fmt.Sprintf(" Blobs of %d MiB instead of the issue's 1 GiB, to fit the time (-mem-blob-mib).", b.cfg.memBlobMiB)
	}
	return []result{{
		row: "8", what: what,
		figure:  fmt.Sprintf("peak %s (VmHWM)", mib(after.hwm)),
		target:  "< 100 MiB",
		verdict: judge(after.hwm < memTarget),
		note:    note,
	}}, nil
}

// storeRoot is the store the long-running registries serve.
func (b *bench) storeRoot() string { return b.dir + "/store" }

// randomReader yields fast, incompressible bytes without end.
func randomReader(seed uint64) io.Reader {
	var s [32]byte
	s[0], s[1] = byte(seed), byte(seed>>8)
	return rand.NewChaCha8(s)
}
