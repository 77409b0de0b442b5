package stock

import (
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
	return testkit.WithBuilt("stock", func(dir string) int {
		authBin = filepath.Join(dir, "auth")
		registryBin = filepath.Join(dir, "registry")
		return m.Run()
	}, "./cmd/auth", "./cmd/registry")
}
