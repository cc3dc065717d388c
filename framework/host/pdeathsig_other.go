//go:build !linux

package host

import "os/exec"

// killWithHost does nothing here: only Linux has Pdeathsig. Plugins exit
// when the host closes them; a host killed with SIGKILL leaves them running.
func killWithHost(*exec.Cmd) {}
