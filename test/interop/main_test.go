package interop

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/wharf-registry/wharf/internal/testkit"
)

// authBin is the cmd/auth binary TestMain builds from the main module.
var authBin string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

// buildAndRun builds cmd/auth in wharf's module root (two levels up from
// this module), runs the tests and removes the binary.
func buildAndRun(m *testing.M) int {
	here, err := testkit.ModuleDir()
	if err != nil {
		fmt.Fprintf(os.Stderr, "interop: %v\n", err)
		return 1
	}
	root := filepath.Join(here, "..", "..")
	if _, err := os.Stat(filepath.Join(root, "cmd", "auth")); err != nil {
		fmt.Fprintf(os.Stderr, "interop: wharf's module root is not %s: %v\n", root, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "wharf-interop-bin-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "interop: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := testkit.BuildIn(root, dir, "./cmd/auth"); err != nil {
		fmt.Fprintf(os.Stderr, "interop: %v\n", err)
		return 1
	}
	authBin = filepath.Join(dir, "auth")
	return m.Run()
}
