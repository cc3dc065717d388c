//go:build linux

package childproc

import (
	"os/exec"
	"syscall"
)

// DieWithParent makes the kernel send SIGKILL to cmd's process when the
// parent dies, however it dies (kill -9 included). Call it before Start.
//
// Pdeathsig fires when the OS thread that started the child exits, not the
// process; the Go runtime ends threads only for goroutines that exit while
// locked to their thread, which our callers never do (golang/go#27505).
func DieWithParent(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
