package stock

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/wharf-registry/wharf/internal/testkit"
)

// Paths of our binaries, which TestMain builds; removed when the tests end.
var (
	authBin     string
	registryBin string
)

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "wharf-stock-bin-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "stock: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	authBin = filepath.Join(dir, "auth")
	registryBin = filepath.Join(dir, "registry")
	if err := testkit.Build(dir, "./cmd/auth", "./cmd/registry"); err != nil {
		fmt.Fprintf(os.Stderr, "stock: %v\n", err)
		return 1
	}
	return m.Run()
}
