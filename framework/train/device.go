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
	TF32   bool   // with CUDA: --tf32, the same as Precision tf32
	// Precision of the model's matrix products ("" is fp32;
	// backbone.Precision); tf32 runs on a GPU only.
	Precision backbone.Precision
	// Recompute keeps one block's activations and runs the others' forward
	// again in the backward pass (backbone.Model.SetRecompute on the CPU,
	// cudamodel.Model.SetRecompute on a GPU): far less memory for one more
	// forward of every block but the last, the same gradients.
	Recompute bool
	// On the CPU: the matrix-multiply back end (auto, go, openblas or
	// gonum; "" keeps the current one, $MAMBAKIT_BLAS by default) and the
	// kernels' worker threads (0 keeps the current number, all cores by
	// default).
	BLAS    string
	Threads int
}

// Check checks the placement's settings against its device: the
// precision (Products).
func (p Placement) Check() error {
	_, err := p.Products()
	return err
}

// Products is the precision of the model's matrix products: Precision,
// or tf32 for TF32 (the older --tf32), fp32 when neither is set. It is
// an error to ask for two, or for tf32 on the CPU.
func (p Placement) Products() (backbone.Precision, error) {
	prec := p.Precision
	if prec == "" {
		prec = backbone.FP32
	}
	if p.TF32 {
		if prec != backbone.FP32 && prec != backbone.TF32 {
			return "", fmt.Errorf("--tf32 and precision %s: choose one (--tf32 is --precision tf32)", prec)
		}
		prec = backbone.TF32
	}
	if (p.Device == "" || p.Device == CPU) && !prec.OnCPU() {
		return "", fmt.Errorf("precision %s runs on a GPU only (its tensor cores): on the CPU use fp32 or bf16", prec)
	}
	return prec, nil
}
