package train

import (
	"fmt"
	"strings"

	"github.com/mambakit/mambakit/framework/backbone"
)

// Device names where a model runs: the CPU (the Go kernels) or a CUDA GPU
// (framework/cudamodel). It is a flag.Value: Set is the one place a device
// name is checked.
type Device string

// The devices.
const (
	CPU  Device = "cpu"
	CUDA Device = "cuda"
)

// Devices lists the device names Set accepts.
var Devices = []Device{CPU, CUDA}

// Set parses a device name.
func (d *Device) Set(s string) error {
	for _, v := range Devices {
		if string(v) == s {
			*d = v
			return nil
		}
	}
	names := make([]string, len(Devices))
	for i, v := range Devices {
		names[i] = string(v)
	}
	return fmt.Errorf("device %q: want %s", s, strings.Join(names, " or "))
}

func (d Device) String() string {
	if d == "" {
		return string(CPU)
	}
	return string(d)
}

// Placement says where and how a model runs.
type Placement struct {
	Device Device // "" is the CPU
	GPU    int    // with CUDA: the GPU's ordinal on this host
	TF32   bool   // with CUDA: TF32 tensor cores for the projections
	// Precision of the model's matrix products ("" is fp32); bf16 runs
	// on the CPU only (backbone.Precision).
	Precision backbone.Precision
	// On the CPU: the matrix-multiply back end (auto, go, openblas or
	// gonum; "" keeps the current one, $MAMBAKIT_BLAS by default) and the
	// kernels' worker threads (0 keeps the current number, all cores by
	// default).
	BLAS    string
	Threads int
}
