package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wharf-registry/wharf/pkg/storage"
)

// garbage-collect refuses, with a message naming the holder and a non-zero
// exit, while another collection holds the lease; it runs once that one
// released it, and takes over a lease whose holder died (expired).
func TestGarbageCollectRespectsTheLease(t *testing.T) {
	cfg, root, d := storeWithGarbage(t)
	store, err := storage.NewFilesystem(root, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	other, err := store.AcquireGCLease(ctx, "registry serve on replica-2", time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd(t, nil, "garbage-collect", "--grace-period=-1s", cfg)
	if code == 0 || !strings.Contains(errOut, "another collection holds the lease: registry serve on replica-2") {
		t.Fatalf("while the lease is held: exit %d, output %q %q", code, out, errOut)
	}
	if _, err := os.Stat(blobData(root, d)); err != nil {
		t.Fatalf("the refused collection removed the blob: %v", err)
	}
	if err := other.Release(ctx); err != nil {
		t.Fatal(err)
	}

	// A holder that died an hour ago: its lease has expired.
	if _, err := store.AcquireGCLease(ctx, "dead", time.Minute, time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCmd(t, nil, "garbage-collect", "--grace-period=-1s", cfg)
	if code != 0 || !strings.Contains(out, "deleted blob "+d.String()) {
		t.Fatalf("over an expired lease: exit %d, output %q %q", code, out, errOut)
	}
}
