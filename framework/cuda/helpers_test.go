package cuda

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
)

var (
	devOnce sync.Once
	dev     *Device
	devErr  error
)

// openOrSkip returns the shared test device, or skips the test with the
// reason (on a machine without a GPU: the one line of ErrNoDriver).
func openOrSkip(t testing.TB) *Device {
	t.Helper()
	devOnce.Do(func() {
		dev, devErr = Open()
		if devErr == nil {
			fmt.Fprintf(os.Stderr, "cuda: %s\n", dev)
		}
	})
	if devErr != nil {
		if errors.Is(devErr, ErrNoDriver) {
			t.Skip(devErr.Error())
		}
		t.Fatalf("cuda: open: %v", devErr)
	}
	return dev
}
