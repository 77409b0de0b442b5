package testkit

import (
	"os"
	"path/filepath"
	"testing"
)

// SharedDir returns the project's shared folder, which holds the fixtures
// recorded from the stock programs (interop/) and the user's seed documents
// (seeds/): $WHARF_SHARED_DIR, else ../shared beside the module root, where
// CI puts it. A missing folder fails the test: a compatibility claim with no
// recording of the other program is unproven, never skipped.
func SharedDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("WHARF_SHARED_DIR")
	if dir == "" {
		root, err := ModuleDir()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(root, "..", "shared")
	}
	if fi, err := os.Stat(filepath.Join(dir, "interop")); err != nil || !fi.IsDir() {
		t.Fatalf("shared folder %s has no interop/ (%v): set WHARF_SHARED_DIR to the project's shared/", dir, err)
	}
	return dir
}
