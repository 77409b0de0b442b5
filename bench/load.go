package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// newTransport is a client transport tuned for load: an idle connection
// kept for every worker, no compression.
func newTransport(conns int) *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
		WriteBufferSize:     256 << 10,
		ReadBufferSize:      256 << 10,
	}
}

// loadResult is what closed-loop load measured.
type loadResult struct {
	requests int
	errors   int
	firstErr error
	elapsed  time.Duration
	lat      []time.Duration
}

// rate is completed requests per second.
func (r loadResult) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.requests) / r.elapsed.Seconds()
}

// p99 is the 99th percentile latency.
func (r loadResult) p99() time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	s := slices.Clone(r.lat)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*99/100)]
}

func (r *loadResult) add(o loadResult) {
	r.requests += o.requests
	r.errors += o.errors
	if r.firstErr == nil {
		r.firstErr = o.firstErr
	}
	r.elapsed += o.elapsed
	r.lat = append(r.lat, o.lat...)
}

// loader is a closed-loop load: conns workers, each sending its next
// request as soon as the last one was answered, through one client whose
// connections stay open between runs.
type loader struct {
	conns  int
	client *http.Client
	do     func(c *http.Client, worker int) error
	total  atomic.Int64 // requests answered, warm-up included
}

func newLoader(conns int, do func(c *http.Client, worker int) error) *loader {
	return &loader{conns: conns, do: do, client: &http.Client{Transport: newTransport(conns), Timeout: 60 * time.Second}}
}

// run lets the workers go for warmup (not counted: connections, caches)
// and then for dur. A request counts when it completes inside the window,
// whenever it started, so the rate is unbiased however long requests
// take. A worker stops early when do returns errStop.
func (l *loader) run(warmup, dur time.Duration) loadResult {
	var (
		measuring atomic.Bool
		mu        sync.Mutex
		res       loadResult
		wg        sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(context.Background())
	for w := range l.conns {
		wg.Go(func() {
			var lat []time.Duration
			errs, n := 0, 0
			var first error
			for ctx.Err() == nil {
				t := time.Now()
				err := l.do(l.client, w)
				d := time.Since(t)
				if err == errStop {
					break
				}
				if err == nil {
					l.total.Add(1)
				}
				if !measuring.Load() {
					continue
				}
				if err != nil {
					errs++
					if first == nil {
						first = err
					}
					continue
				}
				n++
				lat = append(lat, d)
			}
			mu.Lock()
			res.add(loadResult{requests: n, errors: errs, firstErr: first, lat: lat})
			mu.Unlock()
		})
	}
	time.Sleep(warmup)
	start := time.Now()
	measuring.Store(true)
	time.Sleep(dur)
	measuring.Store(false)
	res.elapsed = time.Since(start)
	cancel()
	wg.Wait()
	return res
}

// paired measures a figure and its limit in alternating slices (ABBA...)
// of one total duration each, so that whatever else the machine does
// lands on both alike.
func paired(fig, lim *loader, warmup, dur time.Duration, rounds int) (f, l loadResult) {
	fig.run(warmup, 0)
	lim.run(warmup, 0)
	slice := dur / time.Duration(rounds)
	for i := range rounds {
		if i%2 == 0 {
			f.add(fig.run(0, slice))
			l.add(lim.run(0, slice))
		} else {
			l.add(lim.run(0, slice))
			f.add(fig.run(0, slice))
		}
	}
	return f, l
}

// errStop tells a loader that a worker has nothing more to send.
var errStop = fmt.Errorf("no more work")

// expect checks a response's status and drains its body so the connection
// is reused.
func expect(resp *http.Response, err error, status int) error {
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != status {
		return fmt.Errorf("%s %s: %s", resp.Request.Method, resp.Request.URL.Path, resp.Status)
	}
	return nil
}

// rotated measures several loads in slices of one total duration each,
// every round starting one further along the list, so that whatever else
// the machine does lands on all of them alike.
func rotated(ls []*loader, warmup, dur time.Duration, rounds int) []loadResult {
	for _, l := range ls {
		l.run(warmup, 0)
	}
	out := make([]loadResult, len(ls))
	slice := dur / time.Duration(rounds)
	for i := range rounds {
		for j := range ls {
			k := (i + j) % len(ls)
			out[k].add(ls[k].run(0, slice))
		}
	}
	return out
}
