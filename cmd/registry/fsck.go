package main

import (
	"context"
	"fmt"
	"io"
	"os/signal"
	"syscall"
)

// fsck checks the store: every link must point at a blob whose content
// matches its digest. It prints each problem and exits 1 if there are any.
func fsck(path string, environ []string, stdout, stderr io.Writer) int {
	cfg, ok := loadConfig(path, environ, stderr)
	if !ok {
		return 1
	}
	store, err := openStore(cfg, newLogger(cfg, stderr))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	problems, err := store.Fsck(ctx)
	for _, p := range problems {
		fmt.Fprintln(stdout, p)
	}
	if err != nil {
		fmt.Fprintln(stderr, "fsck failed:", err)
		return 1
	}
	if len(problems) > 0 {
		fmt.Fprintf(stdout, "%d problems\n", len(problems))
		return 1
	}
	fmt.Fprintln(stdout, "storage consistent")
	return 0
}
