// Package hardening attacks the token server and the registry through
// their real interfaces and injects faults into them (issues 6 and 11):
// forged and malformed tokens, login floods and timing, every route
// without the right grant, path tricks, hostile uploads, kill -9 of the
// built registry at each step of a push, a full disk, and garbage
// collection racing pushes.
//
// Everything here is test code. `go test ./test/hardening/` runs the suite;
// the slow parts need WHARF_HARDENING_SLOW=1 (what .ci/run sets):
//
//   - the login latency comparisons: unknown users against wrong
//     passwords at cost 10, and every kind of failure with mixed costs
//     (run them without -race, which makes bcrypt ten times slower),
//   - ten kill -9 rounds per crash point instead of three.
//
// `go test -short` skips the tests that build and start the binaries.
// The disk-full test mounts a small tmpfs, which needs root; elsewhere it
// skips and says why.
package hardening
