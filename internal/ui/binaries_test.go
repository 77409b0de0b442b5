package ui_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/wharf-registry/wharf/internal/testkit"
)

// The browser tests start the built programs, as a user runs them: flags,
// environment (REGISTRY_UI_ENABLED) and the embedded assets are the
// shipped ones. They are built once, on first use.
var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binaries returns the paths of the built auth and registry programs.
func binaries(t *testing.T) (auth, registry string) {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "wharf-ui-bin-"); binErr != nil {
			return
		}
		binErr = testkit.Build(binDir, "./cmd/auth", "./cmd/registry")
	})
	if binErr != nil {
		t.Fatal(fmt.Errorf("building the programs: %w", binErr))
	}
	return filepath.Join(binDir, "auth"), filepath.Join(binDir, "registry")
}
