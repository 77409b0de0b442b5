package stock

import (
	"testing"

	"github.com/wharf-registry/wharf/internal/testkit"
)

// TestOneDataDirectoryEitherProgram is the migration claim both ways: what
// one program wrote to its filesystem storage, the other serves as it is,
// with the first one stopped. Both directions against each stock registry.
func TestOneDataDirectoryEitherProgram(t *testing.T) {
	for _, r := range testkit.StockRegistries {
		stock := stockProgram(t, r)
		t.Run("written by wharf, served by "+r.Version, func(t *testing.T) {
			swapStore(t, ours(), stock)
		})
		t.Run("written by "+r.Version+", served by wharf", func(t *testing.T) {
			swapStore(t, stock, ours())
		})
	}
}

// swapStore pushes the content to writer, stops it, serves the same root
// directory with reader and checks everything comes back.
func swapStore(t *testing.T, writer, reader program) {
	root := t.TempDir()
	arts := content(t)
	// The subtest's cleanup stops the writer (SIGTERM, then waits for it to
	// exit) before the reader starts; the client, made after the server,
	// closes its idle connections first so they never hold the shutdown.
	t.Run("push to "+writer.name, func(t *testing.T) {
		reg := startRegistry(t, writer, root, "")
		push(t, reg.Host(), newClient(t, anonymous), arts)
	})
	if t.Failed() {
		return
	}
	reg := startRegistry(t, reader, root, "")
	k := &checker{t: t, host: reg.Host(), c: newClient(t, anonymous)}
	k.catalog(arts)
	k.serves(arts)
	t.Logf("%s served what %s wrote: %d checks", reader.name, writer.name, k.n)
}
