package host

import (
	"os"
	"os/exec"
)

// pinnedExec runs the open file f itself: the child gets f as descriptor 3
// and executes /proc/self/fd/3, which is the inode that was hashed whatever
// is at path by then. argv[0] stays path, for ps and the plugin's logs.
func pinnedExec(f *os.File, path string, args []string) (*exec.Cmd, func(), error) {
	cmd := exec.Command("/proc/self/fd/3", args...)
	cmd.Args[0] = path
	cmd.ExtraFiles = []*os.File{f}
	return cmd, func() { f.Close() }, nil
}
