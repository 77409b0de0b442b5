package stock

import (
	"fmt"
	"testing"

	"github.com/wharf-registry/wharf/internal/testkit"
)

// program is one registry that reads registry:2's config file: ours, or a
// stock build. The tests hand every one of them the same file.
type program struct {
	name string
	bin  string
	env  []string
	// stock programs have no /healthz: any answer means they are up.
	stock bool
}

// ours is our cmd/registry, with an empty environment.
func ours() program { return program{name: "wharf registry", bin: registryBin, env: []string{}} }

// stockProgram is the stock registry r. Only the registry's own variables
// are left out of its environment; OTEL_TRACES_EXPORTER=none keeps
// registry:3 from sending traces to localhost:4318 (registry:2 ignores it).
func stockProgram(t *testing.T, r testkit.StockRegistry) program {
	t.Helper()
	return program{
		name:  "registry " + r.Version,
		bin:   testkit.StockRegistryBinary(t, r),
		env:   []string{"OTEL_TRACES_EXPORTER=none"},
		stock: true,
	}
}

// registryConfig is a registry:2 config: filesystem storage under root,
// deletes enabled, no debug server (so no second port), and authYAML as
// its auth section ("" for none).
const registryConfig = `version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: %q
  delete:
    enabled: true
http:
  addr: "127.0.0.1:%d"
%s`

// startRegistry starts p over the storage root with authYAML, and stops it
// (SIGTERM, then waits) when the test ends.
func startRegistry(t *testing.T, p program, root, authYAML string) *testkit.Process {
	t.Helper()
	dir := t.TempDir()
	return testkit.Start(t, testkit.Spec{
		Name: p.name,
		Bin:  p.bin,
		Args: func(port int) []string {
			cfg := fmt.Sprintf(registryConfig, root, port, authYAML)
			return []string{"serve", testkit.WriteFile(t, dir, "config.yml", []byte(cfg))}
		},
		Env:       func(int) []string { return p.env },
		AnyStatus: p.stock,
	})
}
