//go:build unix

package childproc

import (
	"os/exec"
	"syscall"
)

// OwnGroup starts cmd's process in a process group of its own, so that a
// Ctrl-C at the terminal (SIGINT to the foreground group) reaches the
// parent only, and the parent decides what the child is sent: one SIGINT,
// not the terminal's and then the parent's. Call it before Start.
func OwnGroup(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
}
