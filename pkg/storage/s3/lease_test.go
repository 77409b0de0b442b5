package s3

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/internal/testkit"
	"github.com/wharf-registry/wharf/pkg/storage"
)

// The garbage collection lease on real S3 servers: of eight processes
// (drivers) taking it at once, exactly one gets it and the others are told
// who; the same when they take over an expired lease at once. This relies
// on the server's If-None-Match: * and If-Match on PutObject.
func TestGCLeaseOneHolderAtATimeOnS3(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		cfg := s.config(t)
		now := time.Now()
		race := func(t *testing.T) {
			stores := make([]*storage.Store, 8)
			for i := range stores {
				stores[i] = storage.New(s.newDriver(t, cfg), storage.Options{})
			}
			errs := testkit.AtOnce(len(stores), func(i int) error {
				_, err := stores[i].AcquireGCLease(context.Background(), fmt.Sprintf("replica-%d", i), time.Hour, now)
				return err
			})
			winner := slices.Index(errs, nil)
			if winner < 0 || slices.IndexFunc(errs[winner+1:], func(err error) bool { return err == nil }) >= 0 {
				t.Fatalf("not exactly one replica got the lease: %v", errs)
			}
			for _, err := range errs {
				var held *storage.LeaseHeldError
				if err != nil && (!errors.As(err, &held) || held.Lease.Holder != fmt.Sprintf("replica-%d", winner)) {
					t.Errorf("a loser got %v, want a LeaseHeldError naming replica-%d", err, winner)
				}
			}
		}
		t.Run("free lease", race)
		t.Run("expired lease", func(t *testing.T) {
			b, _ := json.Marshal(storage.Lease{Holder: "dead replica", Expires: now.Add(-2 * time.Hour)})
			if err := s.newDriver(t, cfg).PutContent(context.Background(), "/.gc-lease", b); err != nil {
				t.Fatal(err)
			}
			race(t)
		})
	})
}

// pausedDriver holds the first repository walk of a collection until
// released, so that a second collection starts while the first runs.
type pausedDriver struct {
	*Driver
	once             sync.Once
	reached, release chan struct{}
}

func (d *pausedDriver) Walk(ctx context.Context, p string, fn storage.WalkFunc) error {
	if p == "/docker/registry/v2/repositories" {
		d.once.Do(func() { close(d.reached); <-d.release })
	}
	return d.Driver.Walk(ctx, p, fn)
}

// Two collections at once on one bucket: the second is refused by the
// first's lease and deletes nothing; the first sweeps.
func TestGarbageCollectionsOnS3TakeTurns(t *testing.T) {
	eachServer(t, func(t *testing.T, s *server) {
		ctx := context.Background()
		cfg := s.config(t)
		pd := &pausedDriver{Driver: s.newDriver(t, cfg), reached: make(chan struct{}), release: make(chan struct{})}
		first := storage.New(pd, storage.Options{})
		second := storage.New(s.newDriver(t, cfg), storage.Options{})
		orphan := pushBlob(t, second, "app", []byte("orphan"))
		done := make(chan error, 1)
		var firstRes storage.GCResult
		go func() {
			var err error
			firstRes, err = first.GarbageCollect(ctx, storage.GCOptions{GracePeriod: -1, Holder: "first"})
			done <- err
		}()
		<-pd.reached
		res, err := second.GarbageCollect(ctx, storage.GCOptions{GracePeriod: -1, Holder: "second"})
		var held *storage.LeaseHeldError
		if !errors.As(err, &held) || held.Lease.Holder != "first" || len(res.Deleted) != 0 {
			t.Fatalf("second collection during the first: %+v, %v", res, err)
		}
		if _, err := second.StatBlob(ctx, "app", orphan.Digest); err != nil {
			t.Fatalf("the refused collection removed the blob: %v", err)
		}
		close(pd.release)
		if err := <-done; err != nil || firstRes.BlobsDeleted != 1 {
			t.Fatalf("first collection: %+v, %v", firstRes, err)
		}
	})
}
