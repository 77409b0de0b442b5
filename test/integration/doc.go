// Package integration tests the built programs as users run them: `cmd/auth`
// and `cmd/registry` are compiled once, started as real processes on loopback
// ports, and driven by real clients — go-containerregistry, plain HTTP as curl
// sends it, and the pinned OCI distribution-spec conformance suite — with the
// configurations and environment variables from the user's own documents.
//
// The package holds only tests; run them with
//
//	go test ./test/integration/
//
// and add -short to leave out the two conformance-suite runs, which take most
// of the time. Set WHARF_CONFORMANCE_RESULTS to a directory to keep the
// suite's reports (report.html, junit.xml) for CI artifacts.
package integration
