package host

import (
	"errors"
	"fmt"

	"github.com/mambakit/mambakit/sdk"
)

// ReadInput reads a file for one Encode or Decode call: a regular file
// (sdk.RegularFile: a named pipe or a device is refused by name and kind
// before it is opened) of at most sdk.MaxEncodeBytes, refused by its size
// before it is read.
func ReadInput(name string) ([]byte, error) {
	data, err := sdk.ReadInput(name, sdk.MaxEncodeBytes)
	var tl *sdk.TooLargeError
	if errors.As(err, &tl) {
		return nil, fmt.Errorf("%w (one plugin call: its tokens must fit one reply); split the file, or use \"mambakit prepare\", which reads files by path", err)
	}
	return data, err
}
