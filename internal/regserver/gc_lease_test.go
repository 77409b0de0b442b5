package regserver

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/pkg/storage"
)

// A scheduled collection while another collector holds the lease skips,
// logging who holds it, and deletes nothing; once released, it runs.
func TestScheduledGCSkipsWhileAnotherHoldsTheLease(t *testing.T) {
	tr := newRegistry(t, nil)
	orphan := tr.pushBlob(t, "app", []byte("orphan"))
	ctx := context.Background()
	other, err := tr.store.AcquireGCLease(ctx, "registry garbage-collect on ops-host", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	opts := storage.GCOptions{GracePeriod: -1}
	res, err := tr.srv.CollectGarbage(ctx, opts)
	if !errors.Is(err, storage.ErrLeaseHeld) || len(res.Deleted) != 0 {
		t.Fatalf("CollectGarbage = %+v, %v; want nothing done, lease held", res, err)
	}
	if logs := tr.logs.String(); !strings.Contains(logs, "garbage collection skipped") || !strings.Contains(logs, "registry garbage-collect on ops-host") {
		t.Fatalf("the log does not say who holds the lease:\n%s", logs)
	}
	if _, err := tr.store.StatBlob(ctx, "app", orphan); err != nil {
		t.Fatalf("blob removed by a skipped collection: %v", err)
	}
	if err := other.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if res, err := tr.srv.CollectGarbage(ctx, opts); err != nil || res.BlobsDeleted != 1 {
		t.Fatalf("after release: %+v, %v", res, err)
	}
}
