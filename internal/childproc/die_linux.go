//go:build linux

package childproc

import (
	"bytes"
	"fmt"
	"os"
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

// Running reports whether process pid runs, from /proc: a zombie (which a
// container's init may never reap) counts as ended. Tests use it to check
// that children died.
func Running(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

// InterruptWithParent makes the kernel send SIGINT to cmd's process when
// the parent dies, however it dies: the child stops as on Ctrl-C (train
// saves a checkpoint first). Call it before Start.
func InterruptWithParent(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGINT
}
