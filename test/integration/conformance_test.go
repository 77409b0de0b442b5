package integration

import (
	"testing"

	"github.com/wharf-registry/wharf/internal/testkit"
)

// The pinned OCI conformance suite, its switches and the reading of its
// junit.xml live in testkit.RunConformance (shared with test/scaleout).

// TestOCIConformanceSuite runs the pinned conformance suite against the built
// registry, once with no auth and once through the token flow with cmd/auth
// (as a user the ACL grants everything, the catalog included), and requires
// zero failures, zero errors and exactly the pinned skips.
func TestOCIConformanceSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("the conformance suite is slow; run without -short")
	}
	t.Parallel()
	t.Run("without auth", func(t *testing.T) {
		reg := startRegistry(t, "")
		testkit.RunConformance(t, binDir, reg.Host(), "", "", testkit.ConformanceSkipsNoAuth)
	})
	t.Run("through the token flow", func(t *testing.T) {
		stack := startTokenStack(t, rsa2048, "libtrust")
		testkit.RunConformance(t, binDir, stack.registry.Host(), admin.name, admin.password, testkit.ConformanceSkipsTokenFlow)
	})
}
