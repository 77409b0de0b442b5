package logtext

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// gate is a writer whose writes each wait for a release, telling the
// test when one has begun: it holds the group's writer inside write(2)
// for as long as the test needs.
type gate struct {
	entered chan string   // the bytes of each write, when it begins
	release chan struct{} // one receive per write
	mu      sync.Mutex
	writes  []string
}

func newGate() *gate {
	return &gate{entered: make(chan string, 16), release: make(chan struct{})}
}

func (g *gate) Write(p []byte) (int, error) {
	g.entered <- string(p)
	<-g.release
	g.mu.Lock()
	g.writes = append(g.writes, string(p))
	g.mu.Unlock()
	return len(p), nil
}

func (g *gate) written() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.writes...)
}

// deadlockGuard bounds a wait that only a broken GroupWriter would make
// endless; it is never reached by a working one.
const deadlockGuard = time.Minute

func recv[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(deadlockGuard):
		t.Fatalf("%s did not happen (a GroupWriter that blocks where it should not)", what)
		panic("unreachable")
	}
}

func TestLinesWrittenMeanwhileGoOutTogetherInOneWrite(t *testing.T) {
	w := newGate()
	g := NewGroupWriter(w)
	first := make(chan error, 1)
	go func() {
		_, err := g.Write([]byte("a\n"))
		first <- err
	}()
	if got := recv(t, w.entered, "the first write"); got != "a\n" {
		t.Fatalf("first write = %q, want %q", got, "a\n")
	}
	// The writer is inside write(2): these only queue, and return at once
	// (a GroupWriter that wrote each itself would block here).
	wrote := make(chan struct{})
	go func() {
		for _, l := range []string{"b\n", "c\n", "d\n"} {
			if n, err := g.Write([]byte(l)); n != len(l) || err != nil {
				t.Errorf("Write(%q) = %d, %v", l, n, err)
			}
		}
		close(wrote)
	}()
	recv(t, wrote, "queueing three lines while a write is in progress")
	w.release <- struct{}{}
	if got := recv(t, w.entered, "the batch's write"); got != "b\nc\nd\n" {
		t.Fatalf("second write = %q, want the three queued lines in one write", got)
	}
	w.release <- struct{}{}
	if err := recv(t, first, "the writer's return"); err != nil {
		t.Fatal(err)
	}
	if err := g.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, want := w.written(), []string{"a\n", "b\nc\nd\n"}; !slices.Equal(got, want) {
		t.Fatalf("writes = %q, want %q", got, want)
	}
}

// A Write that became the writer writes its own batch and one more, then
// returns while a goroutine of the GroupWriter's writes what kept coming:
// under steady logging no request writes the lines of others without end.
func TestTheWriterHandsTheQueueOnAfterTwoBatches(t *testing.T) {
	w := newGate()
	g := NewGroupWriter(w)
	first := make(chan error, 1)
	go func() {
		_, err := g.Write([]byte("a\n"))
		first <- err
	}()
	for _, next := range []string{"b\n", "c\n"} {
		recv(t, w.entered, "a write")
		if _, err := g.Write([]byte(next)); err != nil { // queued meanwhile
			t.Fatal(err)
		}
		w.release <- struct{}{}
	}
	// "c" came during the second batch: the first Write returns without
	// writing it, while "c"'s write is held at the gate.
	if got := recv(t, w.entered, "the third batch's write"); got != "c\n" {
		t.Fatalf("third write = %q, want %q", got, "c\n")
	}
	if err := recv(t, first, "the first Write's return, its third batch still being written"); err != nil {
		t.Fatal(err)
	}
	w.release <- struct{}{}
	if err := g.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, want := w.written(), []string{"a\n", "b\n", "c\n"}; !slices.Equal(got, want) {
		t.Fatalf("writes = %q, want %q", got, want)
	}
	go g.Write([]byte("d\n")) // a new writer after the hand-off
	recv(t, w.entered, "the next writer's write")
	w.release <- struct{}{}
	g.Flush()
	if got := w.written(); len(got) != 4 || got[3] != "d\n" {
		t.Fatalf("writes = %q, want d written after the hand-off", got)
	}
}

func TestLinesQueuedWhileTheWriterYieldsShareItsWrite(t *testing.T) {
	var w bytes.Buffer
	var writes []string
	g := NewGroupWriter(writerFunc(func(p []byte) (int, error) {
		writes = append(writes, string(p))
		return w.Write(p)
	}))
	g.yield = func() { // other requests finishing while the writer yields
		for _, l := range []string{"b\n", "c\n"} {
			if _, err := g.Write([]byte(l)); err != nil {
				t.Error(err)
			}
		}
	}
	if _, err := g.Write([]byte("a\n")); err != nil {
		t.Fatal(err)
	}
	if want := []string{"a\nb\nc\n"}; !slices.Equal(writes, want) {
		t.Fatalf("writes = %q, want %q: one write for the lines queued during the yield", writes, want)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestFlushWaitsForTheQueuedLines(t *testing.T) {
	w := newGate()
	g := NewGroupWriter(w)
	go g.Write([]byte("a\n"))
	recv(t, w.entered, "the first write")
	if _, err := g.Write([]byte("b\n")); err != nil {
		t.Fatal(err)
	}
	go func() { // let both writes through, while Flush waits
		w.release <- struct{}{}
		recv(t, w.entered, "the batch's write")
		w.release <- struct{}{}
	}()
	if err := g.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, want := w.written(), []string{"a\n", "b\n"}; !slices.Equal(got, want) {
		t.Fatalf("after Flush the writes are %q, want %q", got, want)
	}
}

func TestAFullQueueWaitsAndNothingIsDropped(t *testing.T) {
	w := newGate()
	g := NewGroupWriter(w)
	g.max = 4 // two lines of two bytes
	go g.Write([]byte("a\n"))
	recv(t, w.entered, "the first write")
	g.Write([]byte("b\n"))
	g.Write([]byte("c\n"))
	third := make(chan struct{})
	go func() {
		g.Write([]byte("d\n")) // the queue is full: waits for room
		close(third)
	}()
	w.release <- struct{}{}
	if got := recv(t, w.entered, "the batch's write"); got != "b\nc\n" {
		t.Fatalf("second write = %q, want %q", got, "b\nc\n")
	}
	recv(t, third, "the waiting line's Write once the queue was taken")
	w.release <- struct{}{}
	if got := recv(t, w.entered, "the third write"); got != "d\n" {
		t.Fatalf("third write = %q, want %q", got, "d\n")
	}
	w.release <- struct{}{}
	g.Flush()
	if got, want := strings.Join(w.written(), ""), "a\nb\nc\nd\n"; got != want {
		t.Fatalf("written %q, want %q", got, want)
	}
}

func TestFlushReportsAFailedBatch(t *testing.T) {
	w := newGate()
	g := NewGroupWriter(&failingAfter{w: w, ok: 1})
	go g.Write([]byte("a\n"))
	recv(t, w.entered, "the first write")
	g.Write([]byte("b\n"))
	go func() {
		w.release <- struct{}{}
		recv(t, w.entered, "the batch's write")
		w.release <- struct{}{}
	}()
	if err := g.Flush(); !errors.Is(err, errDiskFull) {
		t.Fatalf("Flush = %v, want %v", err, errDiskFull)
	}
	if err := g.Flush(); err != nil {
		t.Fatalf("second Flush = %v, want the error reported once", err)
	}
}

var errDiskFull = errors.New("disk full")

// failingAfter fails every write after the first ok.
type failingAfter struct {
	w  *gate
	ok int
}

func (f *failingAfter) Write(p []byte) (int, error) {
	f.w.Write(p)
	if f.ok > 0 {
		f.ok--
		return len(p), nil
	}
	return 0, errDiskFull
}

// TestConcurrentRequestLinesAreWholeInOrderAndAllThere logs through the
// handler on a GroupWriter on a real file from many goroutines at once, as
// the servers do, then reads the file back.
func TestConcurrentRequestLinesAreWholeInOrderAndAllThere(t *testing.T) {
	f, err := os.Create(t.TempDir() + "/log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g := NewGroupWriter(f)
	log := slog.New(NewHandler(g, nil)).With("program", "test")
	const goroutines, lines = 8, 2000
	var wg sync.WaitGroup
	for i := range goroutines {
		wg.Go(func() {
			pad := strings.Repeat("x", i*37) // lines of different lengths
			for n := range lines {
				log.Info("token request", "g", i, "n", n, "pad", pad)
			}
		})
	}
	wg.Wait()
	if err := g.Flush(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	next := make([]int, goroutines)
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		var i, n int
		var pad string
		at := strings.Index(line, " level=INFO msg=\"token request\" program=test g=")
		if at < 0 {
			t.Fatalf("not a whole line: %q", line)
		}
		if _, err := fmt.Sscanf(line[at:], " level=INFO msg=\"token request\" program=test g=%d n=%d pad=%s", &i, &n, &pad); err != nil {
			t.Fatalf("not a whole line: %q: %v", line, err)
		}
		if i < 0 || i >= goroutines || pad != strings.Repeat("x", i*37) && !(i == 0 && pad == `""`) {
			t.Fatalf("mangled line: %q", line)
		}
		if n != next[i] {
			t.Fatalf("goroutine %d: line %d where %d was next", i, n, next[i])
		}
		next[i]++
	}
	for i, n := range next {
		if n != lines {
			t.Errorf("goroutine %d: %d lines of %d", i, n, lines)
		}
	}
	if bytes.Count(data, []byte("\n")) != goroutines*lines {
		t.Errorf("%d lines in all, want %d", bytes.Count(data, []byte("\n")), goroutines*lines)
	}
}
