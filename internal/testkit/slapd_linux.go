package testkit

import (
	"os/exec"
	"syscall"
)

// dieWithTest makes the kernel kill slapd when the test binary dies (a
// panic or a -timeout skips the cleanups), so no directory outlives it.
func dieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
