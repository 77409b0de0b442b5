package integration

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"testing"

	"github.com/wharf-registry/wharf/internal/testkit"
)

// Paths of the binaries TestMain builds; every test starts these, never the
// packages in-process, so flags, environment handling and shutdown are real.
var (
	binDir      string // removed when the tests end
	authBin     string
	registryBin string
)

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

// buildAndRun compiles cmd/auth and cmd/registry into a temporary directory,
// runs the tests and removes the binaries.
func buildAndRun(m *testing.M) int {
	return testkit.WithBuilt("integration", func(dir string) int {
		binDir = dir
		authBin = filepath.Join(dir, "auth")
		registryBin = filepath.Join(dir, "registry")
		return m.Run()
	}, "./cmd/auth", "./cmd/registry")
}

// server describes how to start one of the programs on a port chosen by the
// harness. args and env are called again with a new port when the first one
// was taken by someone else between picking and binding.
type server struct {
	name string
	bin  string
	args func(port int) []string
	// env is the complete environment of the process; nothing is inherited,
	// so a developer's own REGISTRY_* variables cannot change a test.
	env func(port int) []string
	// tls, when set, is the client configuration for the health check: the
	// server then speaks HTTPS.
	tls *tls.Config
}

// process is a running server, addressed as localhost (see NOTES.md:
// clients refuse loopback IP literals in realms).
type process = testkit.Process

// start launches s, waits until its /healthz answers 200 and stops it when the
// test ends (SIGTERM, so the programs' graceful shutdown runs). On failure of
// the test the tail of its output is logged.
func start(t *testing.T, s server) *process {
	t.Helper()
	return testkit.Start(t, testkit.Spec{Name: s.name, Bin: s.bin, Args: s.args, Env: s.env, TLS: s.tls})
}
