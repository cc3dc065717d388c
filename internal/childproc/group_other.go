//go:build !unix

package childproc

import "os/exec"

// OwnGroup does nothing here: there are no process groups.
func OwnGroup(*exec.Cmd) {}
