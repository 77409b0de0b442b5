package logtext

import (
	"io"
	"runtime"
	"sync"
)

// GroupWriter writes lines to w in order, several in one Write when they
// arrive together (group commit).
//
// A request's access line used to cost a write(2) of its own, under a lock
// the other requests queued on. With GroupWriter the goroutine that finds
// no write in progress becomes the writer: it queues its line, yields the
// processor once (runtime.Gosched) so that goroutines ready to run can
// queue theirs, then writes the queue, and once more if lines came
// meanwhile; whatever keeps coming after that is written by a goroutine
// started for it (drain), which ends when it finds the queue empty, so no
// request writes the lines of others without end. The others only copy
// their line into the queue and return. There is no timer and no
// goroutine waiting for work: a line waits at most for one turn of the
// goroutines ready to run and the writes before it. Flush waits until
// every line given to Write is written, for exit paths.
//
// The queue is bounded: a Write that finds it full waits for the writer
// to take it, or becomes the writer itself. No line is ever dropped.
//
// Each p given to Write must be whole lines (slog's handlers write one
// record per Write): GroupWriter never splits or merges a p, it only puts
// several side by side.
type GroupWriter struct {
	w     io.Writer
	max   int    // queued bytes beyond which Write waits
	yield func() // runtime.Gosched; tests run other writers in it

	mu      sync.Mutex
	room    *sync.Cond // broadcast when the queue was taken or the writer stopped
	writing bool       // a goroutine is writing; it will take queue too
	queue   []byte     // lines waiting, only ever non-empty while writing
	spare   []byte     // the last batch's buffer, reused
	err     error      // the first failed write of a batch, for Flush
}

// groupQueueMax bounds the queued lines: a few hundred request lines.
const groupQueueMax = 256 << 10

// NewGroupWriter returns a GroupWriter on w. w need not be safe for
// concurrent use: only one goroutine at a time writes to it.
func NewGroupWriter(w io.Writer) *GroupWriter {
	g := &GroupWriter{w: w, max: groupQueueMax, yield: runtime.Gosched}
	g.room = sync.NewCond(&g.mu)
	return g
}

// Write writes p after every line given before it, or queues it for the
// goroutine writing at the moment. It returns the error of p's own write
// when it wrote p itself; errors of lines written for others are kept for
// Flush (slog ignores a handler's error anyway).
func (g *GroupWriter) Write(p []byte) (int, error) {
	g.mu.Lock()
	for g.writing {
		if len(g.queue) == 0 || len(g.queue)+len(p) <= g.max {
			g.queue = append(g.queue, p...)
			g.mu.Unlock()
			return len(p), nil
		}
		g.room.Wait() // full: wait for the writer to take the queue
	}
	// No write in progress, so the queue is empty and p goes first.
	// Yielding once lets the goroutines that are ready to run (requests
	// about to finish) queue their lines before the write(2), so it carries
	// several; with nobody ready, Gosched returns at once. Lines do not
	// wait for a timer: the writer goes on as soon as it runs again.
	g.writing = true
	g.queue = append(g.queue, p...)
	g.mu.Unlock()
	g.yield()
	g.mu.Lock()
	err := g.writeBatch() // p is in this batch
	if len(g.queue) > 0 {
		g.keep(g.writeBatch()) // one more, for the lines that came meanwhile
	}
	if len(g.queue) > 0 {
		// Under steady logging the queue may never be empty: the rest
		// goes to a goroutine of its own, so that no request waits
		// without end writing the lines of others.
		go g.drain()
		g.mu.Unlock()
	} else {
		g.stop()
	}
	return written(p, err)
}

// writeBatch writes the queue as one batch, the lock released meanwhile;
// called and returning with g.mu held.
func (g *GroupWriter) writeBatch() error {
	batch := g.queue
	g.queue = g.spare[:0]
	g.room.Broadcast()
	g.mu.Unlock()
	_, err := g.w.Write(batch)
	g.mu.Lock()
	if cap(batch) <= 2*g.max { // a huge line is not kept around
		g.spare = batch[:0]
	} else {
		g.spare = nil
	}
	return err
}

// keep records the failure of a batch written for other goroutines, for
// Flush; called with g.mu held.
func (g *GroupWriter) keep(err error) {
	if err != nil && g.err == nil {
		g.err = err
	}
}

// drain writes the queue until it finds it empty, then lets the next
// Write become the writer.
func (g *GroupWriter) drain() {
	g.mu.Lock()
	for len(g.queue) > 0 {
		g.keep(g.writeBatch())
	}
	g.stop()
}

// stop ends a turn as the writer, the queue empty: the next Write becomes
// the writer. Called with g.mu held, it releases it.
func (g *GroupWriter) stop() {
	g.writing = false
	g.room.Broadcast()
	g.mu.Unlock()
}

// written is Write's answer for p, whose batch's write returned err.
func written(p []byte, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush waits until every line given to Write so far is written and
// returns the first error of a line written for another goroutine since
// the last Flush. Under continuous logging it waits until the writer finds
// the queue empty, so call it where logging has stopped: on the way out.
func (g *GroupWriter) Flush() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	for g.writing {
		g.room.Wait()
	}
	err := g.err
	g.err = nil
	return err
}
