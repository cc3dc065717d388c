//go:build !linux

package childproc

import "os/exec"

// DieWithParent does nothing here: only Linux has Pdeathsig. Children exit
// when their parent stops them; a parent killed with SIGKILL leaves them
// running.
func DieWithParent(*exec.Cmd) {}

// InterruptWithParent does nothing here: only Linux has Pdeathsig.
func InterruptWithParent(*exec.Cmd) {}
