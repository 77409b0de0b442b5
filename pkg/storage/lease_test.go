package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/internal/testkit"
)

// racers runs n acquirers at once, each on a store of its own over root
// (as n processes would be), and returns who won and the errors of the
// others.
func racers(t *testing.T, n int, open func(t *testing.T) *Store, now time.Time) (winners []string, losers []error) {
	t.Helper()
	stores := make([]*Store, n)
	for i := range stores {
		stores[i] = open(t)
	}
	errs := testkit.AtOnce(n, func(i int) error {
		_, err := stores[i].AcquireGCLease(context.Background(), fmt.Sprintf("collector-%d", i), time.Hour, now)
		return err
	})
	for i, err := range errs {
		if err == nil {
			winners = append(winners, fmt.Sprintf("collector-%d", i))
		} else {
			losers = append(losers, err)
		}
	}
	return winners, losers
}

// checkOneWinner fails unless exactly one acquirer won and every other one
// was told, by name, who holds the lease.
func checkOneWinner(t *testing.T, winners []string, losers []error) {
	t.Helper()
	if len(winners) != 1 {
		t.Fatalf("%d acquirers got the lease: %v (errors %v)", len(winners), winners, losers)
	}
	for _, err := range losers {
		var held *LeaseHeldError
		if !errors.As(err, &held) || held.Lease.Holder != winners[0] {
			t.Errorf("a loser got %v, want a LeaseHeldError naming %s", err, winners[0])
		}
	}
}

func fsOpener(root string) func(t *testing.T) *Store {
	return func(t *testing.T) *Store {
		s, err := NewFilesystem(root, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

func writeLease(t *testing.T, s *Store, l Lease) {
	t.Helper()
	b, _ := json.Marshal(l)
	if err := s.Driver().PutContent(context.Background(), gcLeasePath, b); err != nil {
		t.Fatal(err)
	}
}

func TestGCLeaseOneHolderAtATimeOnTheFilesystem(t *testing.T) {
	root := t.TempDir()
	open := fsOpener(root)
	now := time.Now()
	t.Run("free lease, 8 at once", func(t *testing.T) {
		w, l := racers(t, 8, open, now)
		checkOneWinner(t, w, l)
	})
	t.Run("expired lease, 8 take it over at once", func(t *testing.T) {
		writeLease(t, open(t), Lease{Holder: "dead collector", Expires: now.Add(-2 * time.Hour)})
		w, l := racers(t, 8, open, now)
		checkOneWinner(t, w, l)
	})
	if !exists(filepath.Join(root, ".gc-lease")) || exists(filepath.Join(root, "docker", ".gc-lease")) {
		t.Error("the lease is not at <root>/.gc-lease, outside registry:2's tree")
	}
	leftovers, _ := filepath.Glob(filepath.Join(root, ".tmp-*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
}

// A holder whose lease expired and was taken over learns it at its next
// renewal; a released lease is free at once.
func TestGCLeaseRenewReleaseAndTakeover(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	now := time.Now()
	a, err := s.AcquireGCLease(ctx, "a", time.Minute, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Renew(ctx, time.Minute, now.Add(30*time.Second)); err != nil {
		t.Fatalf("renewing a held lease: %v", err)
	}
	_, err = s.AcquireGCLease(ctx, "b", time.Minute, now.Add(80*time.Second))
	var held *LeaseHeldError
	if !errors.As(err, &held) || held.Lease.Holder != "a" {
		t.Fatalf("b before a's renewed lease expired: %v, want held by a", err)
	}
	b, err := s.AcquireGCLease(ctx, "b", time.Minute, now.Add(time.Hour))
	if err != nil {
		t.Fatalf("taking over an expired lease: %v", err)
	}
	if err := a.Renew(ctx, time.Minute, now.Add(time.Hour)); err == nil {
		t.Fatal("a renewed a lease b took over")
	}
	if err := a.Release(ctx); err == nil {
		t.Fatal("a released b's lease")
	}
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AcquireGCLease(ctx, "c", time.Minute, now.Add(time.Hour)); err != nil {
		t.Fatalf("after release: %v", err)
	}
}

// blockingDriver holds the first listing of the repositories until
// released, so a collection can be caught in the middle.
type blockingDriver struct {
	Driver
	ConditionalWriter
	once             sync.Once
	reached, release chan struct{}
}

func (d *blockingDriver) Walk(ctx context.Context, p string, fn WalkFunc) error {
	if p == reposRoot {
		d.once.Do(func() { close(d.reached); <-d.release })
	}
	return d.Driver.Walk(ctx, p, fn)
}

// Two collections at once on one storage: the second finds the first's
// lease, deletes nothing and says who holds it; the first sweeps.
func TestGarbageCollectionsTakeTurns(t *testing.T) {
	f := newGCFixture(t)
	fsd, err := NewFilesystemDriver(f.root)
	if err != nil {
		t.Fatal(err)
	}
	bd := &blockingDriver{Driver: fsd, ConditionalWriter: fsd, reached: make(chan struct{}), release: make(chan struct{})}
	first := New(bd, Options{})
	second, _ := NewFilesystem(f.root, Options{})
	ctx := context.Background()
	opts := GCOptions{DeleteUntagged: true, GracePeriod: time.Hour}

	type result struct {
		res GCResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		o := opts
		o.Holder = "first"
		res, err := first.GarbageCollect(ctx, o)
		done <- result{res, err}
	}()
	<-bd.reached
	before := listTree(t, f.root)
	o := opts
	o.Holder = "second"
	res, err := second.GarbageCollect(ctx, o)
	var held *LeaseHeldError
	if !errors.As(err, &held) || held.Lease.Holder != "first" || len(res.Deleted) != 0 {
		t.Fatalf("second collection during the first: %+v, %v; want nothing done and held by first", res, err)
	}
	if after := listTree(t, f.root); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Fatal("the refused collection changed the store")
	}
	close(bd.release)
	r := <-done
	if r.err != nil || r.res.ManifestsDeleted != 1 || r.res.BlobsDeleted == 0 {
		t.Fatalf("first collection: %+v, %v", r.res, r.err)
	}
	f.checkLive(t, false)
	// Released: the next collection runs.
	if _, err := second.GarbageCollect(ctx, o); err != nil {
		t.Fatalf("a collection after the first ended: %v", err)
	}
	if _, err := os.Stat(filepath.Join(f.root, ".gc-lease")); err != nil {
		t.Fatal(err)
	}
}

// A driver that cannot write conditionally cannot hold the lease, and a
// collection that asks for one fails rather than run unguarded.
func TestGCLeaseNeedsConditionalWrites(t *testing.T) {
	_, root := newStore(t)
	fsd, _ := NewFilesystemDriver(root)
	s := New(plainDriver{fsd}, Options{})
	if _, err := s.GarbageCollect(context.Background(), GCOptions{Holder: "x"}); !errors.Is(err, ErrLeaseUnsupported) {
		t.Fatalf("GarbageCollect = %v, want ErrLeaseUnsupported", err)
	}
}
