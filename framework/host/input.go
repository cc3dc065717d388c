package host

import (
	"errors"
	"fmt"
	"os"

	"github.com/mambakit/mambakit/sdk"
)

// ReadInput reads a file for one Encode or Decode call, refusing one above
// the protocol's message size before reading it. Errors name the file.
func ReadInput(name string) ([]byte, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, pathErr(err))
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("%s: is a directory", name)
	}
	if fi.Size() > sdk.MaxMessageSize-1<<20 {
		return nil, fmt.Errorf("%s: %d MiB is more than one plugin call takes (%d MiB); split the file, or use \"mambakit prepare\", which reads files by path", name, fi.Size()>>20, sdk.MaxMessageSize>>20-1)
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, pathErr(err))
	}
	return data, nil
}

// pathErr drops the path from an *os.PathError whose path the message
// already names.
func pathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
