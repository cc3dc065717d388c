//go:build !unix

package train

import (
	"errors"
	"os"
)

var errLocked = errors.New("locked")

// flock does nothing where flock(2) does not exist: the run directory is
// not locked there.
func flock(*os.File) error { return nil }
