package regserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/internal/regconfig"
	"github.com/wharf-registry/wharf/pkg/storage"
)

// countingDriver counts the writes that reach storage and can be told to
// fail them, as a full or read-only volume or an S3 outage would.
type countingDriver struct {
	storage.Driver
	writes atomic.Int64
	fail   atomic.Bool
	full   atomic.Bool // fail writes as a full disk does
}

var errInjected = errors.New("injected storage failure")

// failure is the error a write gets now, or nil.
func (d *countingDriver) failure() error {
	switch {
	case d.full.Load():
		return fmt.Errorf("write: %w", syscall.ENOSPC)
	case d.fail.Load():
		return errInjected
	}
	return nil
}

func (d *countingDriver) PutContent(ctx context.Context, path string, content []byte) error {
	d.writes.Add(1)
	if err := d.failure(); err != nil {
		return err
	}
	return d.Driver.PutContent(ctx, path, content)
}

func (d *countingDriver) Writer(ctx context.Context, path string, append bool) (storage.FileWriter, error) {
	d.writes.Add(1)
	if err := d.failure(); err != nil {
		return nil, err
	}
	return d.Driver.Writer(ctx, path, append)
}

func (d *countingDriver) Delete(ctx context.Context, path string) error {
	d.writes.Add(1)
	return d.Driver.Delete(ctx, path)
}

// newCountedRegistry serves a registry over a countingDriver with the
// image's health.storagedriver settings and the given interval, its
// background jobs running.
func newCountedRegistry(t *testing.T, interval time.Duration) (*Server, *countingDriver, *httptest.Server) {
	t.Helper()
	cfg, err := regconfig.Load("", []string{"REGISTRY_HEALTH_STORAGEDRIVER_INTERVAL=" + interval.String()})
	if err != nil {
		t.Fatal(err)
	}
	fs, err := storage.NewFilesystemDriver(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d := &countingDriver{Driver: fs}
	srv, err := New(cfg, storage.New(d, storage.Options{}), nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return srv, d, ts
}

func get(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Probes read the periodic check's result: 100 of them cost the writes of
// the checks that ran meanwhile (one per interval, plus the first), not
// one each.
func TestHealthzDoesNotWriteToStoragePerCall(t *testing.T) {
	const interval = time.Hour // no periodic check comes during the test
	_, d, ts := newCountedRegistry(t, interval)
	started := time.Now()
	for i := range 100 {
		if code := get(t, ts.URL+"/healthz"); code != 200 {
			t.Fatalf("call %d: %d", i, code)
		}
	}
	checks := 1 + int64(time.Since(started)/interval)
	// A check writes its probe and removes it.
	if got := d.writes.Load(); got > 2*checks {
		t.Errorf("100 /healthz calls made %d writes, want at most %d (%d checks)", got, 2*checks, checks)
	}
}

// A failing storage turns /healthz (and, with health.storagedriver.enabled,
// the API) unhealthy after threshold checks, not at the first failure, and
// healthy again at the first check that passes.
func TestFailingStorageIsUnhealthyAfterThresholdChecks(t *testing.T) {
	srv, d, ts := newCountedRegistry(t, time.Hour)
	if code := get(t, ts.URL+"/healthz"); code != 200 {
		t.Fatalf("healthy storage: %d", code)
	}
	d.fail.Store(true)
	ctx := context.Background()
	threshold := srv.cfg.Health.StorageDriver.Threshold // 3, the image's
	for i := 1; i < threshold; i++ {
		srv.checkStorage(ctx)
		if code := get(t, ts.URL+"/healthz"); code != 200 {
			t.Fatalf("after %d failed checks of %d: /healthz %d", i, threshold, code)
		}
		if code := get(t, ts.URL+"/v2/"); code != 200 {
			t.Fatalf("after %d failed checks of %d: /v2/ %d", i, threshold, code)
		}
	}
	srv.checkStorage(ctx)
	if code := get(t, ts.URL+"/healthz"); code != 503 {
		t.Errorf("after %d failed checks: /healthz %d, want 503", threshold, code)
	}
	if code := get(t, ts.URL+"/v2/"); code != 503 {
		t.Errorf("after %d failed checks: /v2/ %d, want 503", threshold, code)
	}
	d.fail.Store(false)
	srv.checkStorage(ctx)
	if code := get(t, ts.URL+"/healthz"); code != 200 {
		t.Errorf("after a good check: /healthz %d", code)
	}
}

// The periodic check does run on its own: with a short interval, failing
// storage turns /healthz unhealthy without anyone calling the check.
func TestPeriodicCheckRunsByItself(t *testing.T) {
	_, d, ts := newCountedRegistry(t, 5*time.Millisecond)
	d.fail.Store(true)
	for deadline := time.Now().Add(time.Minute); get(t, ts.URL+"/healthz") != 503; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("/healthz still healthy a minute after storage started failing")
		}
	}
}

// A full disk fails probes at the first check that finds it, but is no
// storage failure for the API: reads go on, and the deletes that free space.
func TestFullStorageFailsProbesButKeepsTheAPI(t *testing.T) {
	srv, d, ts := newCountedRegistry(t, time.Hour)
	d.full.Store(true)
	for range srv.cfg.Health.StorageDriver.Threshold + 1 {
		srv.checkStorage(context.Background())
	}
	if code := get(t, ts.URL+"/healthz"); code != 503 {
		t.Errorf("full storage: /healthz %d, want 503", code)
	}
	if code := get(t, ts.URL+"/v2/"); code != 200 {
		t.Errorf("full storage: /v2/ %d, want 200", code)
	}
	d.full.Store(false)
	srv.checkStorage(context.Background())
	if code := get(t, ts.URL+"/healthz"); code != 200 {
		t.Errorf("after space was freed: /healthz %d", code)
	}
}
