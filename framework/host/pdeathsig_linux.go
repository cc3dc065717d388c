//go:build linux

package host

import (
	"os/exec"
	"syscall"
)

// killWithHost makes the kernel send SIGKILL to the plugin when the host
// dies, however it dies (go-plugin only stops plugins on a clean exit, so a
// host killed with kill -9 would leave them orphaned).
//
// Pdeathsig fires when the OS thread that started the child exits, not the
// process; the Go runtime ends threads only for goroutines that exit while
// locked to their thread, which the host never does (golang/go#27505).
func killWithHost(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
