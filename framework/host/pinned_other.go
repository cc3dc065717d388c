//go:build !linux

package host

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// pinnedExec runs a private copy of the open file f (hashed already): a
// 0700 directory only this user can write, removed once the plugin has
// started (where the system allows removing a running program).
func pinnedExec(f *os.File, path string, args []string) (*exec.Cmd, func(), error) {
	dir, err := os.MkdirTemp("", "mambakit-plugin-")
	if err != nil {
		return nil, nil, err
	}
	dst := filepath.Join(dir, filepath.Base(path))
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o700)
	if err == nil {
		if _, err = f.Seek(0, io.SeekStart); err == nil {
			_, err = io.Copy(out, f)
		}
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}
	f.Close()
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	cmd := exec.Command(dst, args...)
	cmd.Args[0] = path
	return cmd, func() { os.RemoveAll(dir) }, nil
}
