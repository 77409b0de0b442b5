package scaleout

import (
	"testing"

	"github.com/wharf-registry/wharf/internal/testkit"
)

// The OCI conformance suite as test/integration runs it (same pin, same
// switches, same reading of its junit.xml, all in testkit), pointed at the
// proxy.

// TestOCIConformanceThroughTheProxy runs the suite against three registries
// on one bucket through the round-robin proxy, once per S3 server, and
// once more on versitygw through the token flow with both auth servers
// behind their own proxy. Every request of the suite lands on the next
// process, so every multi-request operation crosses processes.
func TestOCIConformanceThroughTheProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("the conformance suite is slow; run without -short")
	}
	eachS3(t, func(t *testing.T, s *s3Server) {
		c := startCluster(t, s, clusterOptions{})
		testkit.RunConformance(t, binDir, c.proxy.Host(), "", "", testkit.ConformanceSkipsNoAuth)
	})
	t.Run("versitygw through the token flow", func(t *testing.T) {
		s := needS3(t, "versitygw")
		pair := startAuthPair(t)
		c := startCluster(t, s, clusterOptions{authYAML: pair.registry})
		testkit.RunConformance(t, binDir, c.proxy.Host(), testUser, testPassword, testkit.ConformanceSkipsTokenFlow)
	})
}
