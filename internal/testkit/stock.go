package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// StockRegistry names one stock CNCF registry build that the compatibility
// tests run beside ours. scripts/stock-registries.sh builds each from the Go
// module proxy.
type StockRegistry struct {
	Version string // as released: "v3.1.1"
	Env     string // variable that may name the binary
}

// The stock registries the tests know. v2.8.3 is built as a dependency of
// a module that pins what its vendor.conf could not (see the script).
var (
	StockRegistryV2 = StockRegistry{Version: "v2.8.3", Env: "WHARF_STOCK_REGISTRY_V2"}
	StockRegistryV3 = StockRegistry{Version: "v3.1.1", Env: "WHARF_STOCK_REGISTRY_V3"}
)

// StockRegistries are all of them, oldest first, for tests that run against
// each.
var StockRegistries = []StockRegistry{StockRegistryV2, StockRegistryV3}

// StockRegistryBinary returns the path of r's binary: its variable, then
// $(go env GOPATH)/wharf-stock/registry-<version>/registry. A missing binary
// fails the test, with the command that installs it: a compatibility claim
// whose stock program is absent is unproven, never skipped.
func StockRegistryBinary(t testing.TB, r StockRegistry) string {
	t.Helper()
	p, err := StockRegistryPath(r)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// StockRegistryPath finds r's binary as StockRegistryBinary does, for
// programs that are not tests (the benchmark); the error says how to
// install it.
func StockRegistryPath(r StockRegistry) (string, error) {
	if p := os.Getenv(r.Env); p != "" {
		if fi, err := os.Stat(p); err != nil || fi.IsDir() {
			return "", fmt.Errorf("%s=%s: not a registry binary (%v); run scripts/stock-registries.sh install", r.Env, p, err)
		}
		return p, nil
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err == nil {
		gopath := strings.SplitN(strings.TrimSpace(string(out)), string(filepath.ListSeparator), 2)[0]
		p := filepath.Join(gopath, "wharf-stock", "registry-"+r.Version, "registry")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("stock registry %s is not installed: run scripts/stock-registries.sh install (or set %s)", r.Version, r.Env)
}
