package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"syscall"
	"time"

	"github.com/wharf-registry/wharf/internal/regproxy"
	"github.com/wharf-registry/wharf/pkg/storage"
)

// garbageCollect runs registry:2's `garbage-collect`: it removes blobs no
// manifest references and, with --delete-untagged, manifests no tag
// reaches (keeping children of kept indexes and referrers of kept
// manifests). It is safe while a registry serves the same storage: nothing
// younger than the grace period is removed.
func garbageCollect(args, environ []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("garbage-collect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var dryRun, untagged bool
	var grace time.Duration
	fs.BoolVar(&dryRun, "dry-run", false, "list what would be removed, remove nothing")
	fs.BoolVar(&dryRun, "d", false, "short for --dry-run")
	fs.BoolVar(&untagged, "delete-untagged", false, "also remove manifests no tag reaches")
	fs.BoolVar(&untagged, "m", false, "short for --delete-untagged")
	fs.DurationVar(&grace, "grace-period", 0, "never remove anything younger (default: storage.maintenance.gc.graceperiod, 1h)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: registry garbage-collect [--dry-run] [--delete-untagged] [--grace-period 1h] CONFIG")
		fs.PrintDefaults()
	}
	positional, ok := parseInterleaved(fs, args)
	if !ok {
		return 2
	}
	if len(positional) != 1 {
		fs.Usage()
		return 2
	}
	cfg, ok := loadConfig(positional[0], environ, stderr)
	if !ok {
		return 1
	}
	logger := newLogger(cfg, stderr)
	if grace == 0 {
		grace = cfg.Storage.Maintenance.GC.GracePeriod.Duration
	}
	store, err := openStore(cfg, logger)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if !dryRun {
		// Cached tags past their TTL go first, so this collection frees
		// what they held (see regproxy.Expire). An expiry that fails stops
		// the command: the operator asked for both.
		n, err := regproxy.New(cfg.Upstreams(), store, logger, nil).Expire(ctx)
		if n > 0 {
			fmt.Fprintf(stdout, "expired %d cached tags of proxied repositories\n", n)
		}
		if err != nil {
			fmt.Fprintln(stderr, "expiring cached tags failed:", err)
			return 1
		}
	}
	res, err := store.GarbageCollect(ctx, storage.GCOptions{
		DryRun: dryRun, DeleteUntagged: untagged, GracePeriod: grace, Logger: logger,
		Holder: storage.LeaseHolder("registry garbage-collect"),
	})
	var held *storage.LeaseHeldError
	if errors.As(err, &held) {
		fmt.Fprintf(stderr, "garbage collection refused: another collection holds the lease: %s, until %s; run again once it is done (a dead holder's lease expires then)\n",
			held.Lease.Holder, held.Lease.Expires.UTC().Format(time.RFC3339))
		return 1
	}
	verb := "deleted"
	if dryRun {
		verb = "would delete"
	}
	for _, d := range res.Deleted {
		fmt.Fprintln(stdout, verb, d)
	}
	fmt.Fprintf(stdout, "%s %d manifests and %d blobs, %d bytes\n", verb, res.ManifestsDeleted, res.BlobsDeleted, res.BytesFreed)
	if err != nil {
		fmt.Fprintln(stderr, "garbage collection failed:", err)
		return 1
	}
	return 0
}

// parseInterleaved parses flags wherever they appear among the arguments,
// so both `garbage-collect --dry-run CONFIG` (registry:2's form) and
// `garbage-collect CONFIG --dry-run` work.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, bool) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, false
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, true
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}
