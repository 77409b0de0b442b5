package slapd

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel kill slapd when its parent dies (a test
// binary's panic or -timeout, or a killed bench, skips the cleanups), so
// no slapd outlives the directory it was given.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
