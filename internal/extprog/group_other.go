//go:build !unix

package extprog

import "os/exec"

// ownGroup does nothing where there are no process groups: the default
// cancellation kills the program itself.
func ownGroup(*exec.Cmd) {}
