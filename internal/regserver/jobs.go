package regserver

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/wharf-registry/wharf/pkg/storage"
)

// Run runs the background jobs the config enables until ctx is done:
// purging abandoned uploads, scheduled garbage collection and the periodic
// storage check.
func (s *Server) Run(ctx context.Context) error {
	m := s.cfg.Storage.Maintenance
	var wg sync.WaitGroup
	if up := m.UploadPurging; up.On() && !s.readOnly {
		wg.Go(func() {
			// Not at start-up: the purge walks every repository, and
			// replicas sharing a bucket would all walk it at once. As
			// registry:2 does, the first run waits a random delay.
			first := rand.N(max(min(up.Interval.Duration, time.Hour), 1))
			every(ctx, first, up.Interval.Duration, func(ctx context.Context) { s.purgeUploads(ctx, up.Age.Duration, up.DryRun) })
		})
	}
	if gc := m.GC; gc.Enabled {
		wg.Go(func() {
			every(ctx, gc.Interval.Duration, gc.Interval.Duration, func(ctx context.Context) {
				s.CollectGarbage(ctx, storage.GCOptions{DeleteUntagged: gc.DeleteUntagged, GracePeriod: gc.GracePeriod.Duration})
			})
		})
	}
	// The storage check runs whether or not health.storagedriver.enabled
	// lets it turn the API off: /healthz serves its result.
	wg.Go(func() { s.watchHealth(ctx, s.cfg.Health.StorageDriver.Interval.Duration) })
	wg.Wait()
	return nil
}

// CollectGarbage runs one garbage collection, logging and counting it in
// the metrics.
func (s *Server) CollectGarbage(ctx context.Context, opts storage.GCOptions) (storage.GCResult, error) {
	if opts.Logger == nil {
		opts.Logger = s.logger
	}
	if opts.Holder == "" {
		opts.Holder = s.leaseHolder
	}
	started := time.Now()
	if !opts.DryRun {
		// Tags of proxied repositories past their TTL go first, so this
		// collection frees what they held (see regproxy.Expire).
		if n, err := s.proxy.Expire(ctx); err != nil {
			s.logger.Error("expiring cached tags failed", "expired", n, "err", err)
		} else if n > 0 {
			s.logger.Info("expired cached tags", "count", n)
		}
	}
	res, err := s.store.GarbageCollect(ctx, opts)
	var held *storage.LeaseHeldError
	if errors.As(err, &held) {
		// Another replica (or a garbage-collect command) is collecting.
		s.metrics.gcRuns.WithLabelValues("skipped").Inc()
		s.logger.Info("garbage collection skipped: another collector holds the lease",
			"holder", held.Lease.Holder, "until", held.Lease.Expires)
		return res, err
	}
	s.metrics.observeGC(res, err)
	if err != nil {
		s.logger.Error("garbage collection failed", "err", err)
		return res, err
	}
	s.logger.Info("garbage collection done", "blobs", res.BlobsDeleted, "manifests", res.ManifestsDeleted,
		"bytes_freed", res.BytesFreed, "duration", time.Since(started))
	return res, nil
}

// purgeUploads removes sessions older than age. A dry run only says it
// would: the store cannot list sessions without removing them.
func (s *Server) purgeUploads(ctx context.Context, age time.Duration, dryRun bool) {
	if dryRun {
		s.logger.Info("upload purging is in dry-run mode; nothing removed", "age", age)
		return
	}
	n, err := s.store.PurgeUploads(ctx, age)
	if err != nil {
		s.logger.Error("purging abandoned uploads failed", "err", err)
	}
	s.metrics.uploadsPurged.Add(float64(n))
	if n > 0 {
		s.logger.Info("purged abandoned uploads", "count", n, "older_than", age)
	}
}

// every calls fn after first, then each interval, until ctx is done. Runs
// never overlap: a slow run delays the next.
func every(ctx context.Context, first, interval time.Duration, fn func(context.Context)) {
	t := time.NewTimer(first)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn(ctx)
			t.Reset(interval)
		}
	}
}
