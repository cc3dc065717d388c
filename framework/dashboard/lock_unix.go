//go:build unix

package dashboard

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// locked says whether a process holds the run's lock (train.LockRunDir's
// flock on .lock): the run is training. It asks with a shared lock,
// released at once, and writes nothing.
func locked(root *os.Root, name string) bool {
	f, err := root.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	err = unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB)
	if err == nil {
		unix.Flock(int(f.Fd()), unix.LOCK_UN)
		return false
	}
	return errors.Is(err, unix.EWOULDBLOCK)
}
