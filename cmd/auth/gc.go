package main

import "runtime/debug"

// gcPercent is the token server's GOGC when the environment sets none.
// Its live heap is a few megabytes, so at Go's default of 100 a CI fleet
// asking for tokens makes it collect tens of times a second: about 7 % of
// its CPU in bench row 4 (mark workers, sweeping, stacks shrunk and grown
// again). At 400 the heap may grow to five times what is live (RSS under
// row 4's load: 20 → 32 MiB) and row 4 gained about 20 points of the bare
// handler's rate on a loaded machine.
const gcPercent = 400

// tuneGC sets gcPercent unless GOGC is set, which always wins.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
}
