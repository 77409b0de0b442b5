// Package testkit is shared plumbing for this module's tests, and for tests
// only: building the module's commands, starting them (and the S3 servers
// and the OCI conformance suite) as real processes on loopback ports,
// collecting their output and stopping them. It holds ordinary .go files so
// that several test packages can import it; no production code may.
//
// Failures are reported through testing.TB, or as errors where a TestMain
// calls in before any test exists.
package testkit
