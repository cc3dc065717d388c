package host

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"

	"github.com/mambakit/mambakit/sdk"
)

// pinnedCommand returns the command that runs the plugin name at path,
// whose SHA-256 must be sum (from plugins.lock): the file is opened once,
// hashed through that descriptor, and the command executes the bytes that
// were hashed (pinnedExec), so a file swapped in after the check is never
// run. done releases what the command needed once it has started (or
// failed to).
func pinnedCommand(name, path string, args []string, sum []byte) (cmd *exec.Cmd, done func(), err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("host: plugin %q: %w", name, err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("host: plugin %q: %w", name, err)
	}
	if !bytes.Equal(h.Sum(nil), sum) {
		f.Close()
		return nil, nil, &sdk.ChecksumError{Plugin: name, Path: path}
	}
	cmd, done, err = pinnedExec(f, path, args)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("host: plugin %q: %w", name, err)
	}
	return cmd, done, nil
}
