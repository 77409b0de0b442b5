//go:build unix

package extprog

import (
	"os/exec"
	"syscall"
)

// ownGroup puts the program in a new process group and makes the
// cancellation kill that group: a shell script's children (a hung curl)
// die with it.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
