package s3

import (
	"context"
	"sync"
)

// partsInFlight is how many parts one upload sends at once. One part at a
// time leaves the server idle while the next fills and then the writer
// idle while it uploads; with several, a single stream keeps the server
// busy (make bench, rows 12).
const partsInFlight = 4

// sharedPartBytes bounds, per driver, the part buffers uploads hold beyond
// their first (the one filling). An upload holds at most partsInFlight+1
// buffers of its chunk size, 50 MiB with registry:2's 10 MiB; the driver's
// uploads together hold at most one buffer each plus sharedPartBytes: 8
// concurrent uploads of 10 MiB parts at most 8 × 10 + 32 MiB, less than
// the 8 × 20 MiB of double buffering. A lone upload gets the whole budget;
// many share it, and one that finds it spent uploads a part at a time.
const sharedPartBytes = 32 << 20

// partBudget is the driver's account of sharedPartBytes. It never blocks:
// an upload that finds it spent waits for its own oldest part instead.
type partBudget struct {
	mu   sync.Mutex
	used int64
}

func (b *partBudget) take(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > sharedPartBytes {
		return false
	}
	b.used += n
	return true
}

func (b *partBudget) give(n int64) {
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
}

// inflight is a part being uploaded in the background.
type inflight struct {
	num  int32
	data []byte
	etag string
	err  error
	done chan struct{}
}

// partQueue uploads the parts of one multipart upload, up to partsInFlight
// at once, and collects them in the order they were sent, which is the
// order of their numbers. It is used from one goroutine; only the uploads
// run on others.
type partQueue struct {
	d        *Driver
	ctx      context.Context
	key      string
	uploadID string // set before the first send

	parts    []part // uploaded, in order
	size     int64  // bytes in parts
	flying   []*inflight
	spare    [][]byte
	held     int   // buffers of this upload: filling, flying and spare
	borrowed int64 // bytes of them taken from the driver's budget
	err      error // sticky: a part failed
}

func newPartQueue(d *Driver, ctx context.Context, key string) *partQueue {
	return &partQueue{d: d, ctx: ctx, key: key, held: 1}
}

// next is the number of the next part.
func (q *partQueue) next() int32 {
	switch {
	case len(q.flying) > 0:
		return q.flying[len(q.flying)-1].num + 1
	case len(q.parts) > 0:
		return q.parts[len(q.parts)-1].num + 1
	}
	return 1
}

// send starts uploading data as part num and returns an empty buffer of
// capacity chunk for the next bytes: a spare one, a new one while the
// driver's budget allows, else that of
// the oldest part once it is done. At most partsInFlight parts upload while
// the next fills.
func (q *partQueue) send(num int32, data []byte, chunk int64) ([]byte, error) {
	if q.err != nil {
		return nil, q.err
	}
	for len(q.flying) >= partsInFlight {
		if err := q.collect(); err != nil {
			return nil, err
		}
	}
	f := &inflight{num: num, data: data, done: make(chan struct{})}
	q.flying = append(q.flying, f)
	go func() {
		defer close(f.done)
		f.etag, f.err = q.d.uploadPart(q.ctx, q.key, q.uploadID, f.num, f.data)
	}()
	for {
		if b := q.takeSpare(chunk); b != nil {
			return b, nil
		}
		if q.d.budget.take(chunk) {
			q.held++
			q.borrowed += chunk
			return make([]byte, 0, chunk), nil
		}
		if err := q.collect(); err != nil {
			return nil, err
		}
	}
}

// takeSpare returns a spare buffer of at least chunk bytes, if any.
func (q *partQueue) takeSpare(chunk int64) []byte {
	for len(q.spare) > 0 {
		b := q.spare[len(q.spare)-1]
		q.spare = q.spare[:len(q.spare)-1]
		if int64(cap(b)) >= chunk {
			return b[:0]
		}
		q.held-- // too small for this chunk size: let it go
	}
	return nil
}

// collect waits for the oldest part in flight.
func (q *partQueue) collect() error {
	f := q.flying[0]
	q.flying = q.flying[1:]
	<-f.done
	if f.err != nil {
		// Its buffer is not reused: after a failed request the
		// transport may still be reading the body.
		q.held--
		if q.err == nil {
			q.err = f.err
		}
		return q.err
	}
	if q.err != nil {
		q.held--
		return q.err
	}
	q.spare = append(q.spare, f.data[:0])
	q.parts = append(q.parts, part{num: f.num, size: int64(len(f.data)), etag: f.etag})
	q.size += int64(len(f.data))
	return nil
}

// wait collects every part in flight; the first error is the result.
func (q *partQueue) wait() error {
	for len(q.flying) > 0 {
		q.collect()
	}
	return q.err
}

// release waits for the parts in flight and returns this upload's share
// of the budget; the queue is not used afterwards.
func (q *partQueue) release() {
	q.wait()
	q.d.budget.give(q.borrowed)
	q.borrowed, q.spare = 0, nil
}
