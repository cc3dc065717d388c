//go:build purego || !amd64

package kernels

// gemmAsm: the assembly kernels are built.
const gemmAsm = false

// gemmArchImpls: no micro-kernel families (registry.go).
var gemmArchImpls []kernelImpl

// gemmKernels lists the micro-kernels this CPU runs: none without
// assembly, so the Go backend runs gonum's blas32.
func gemmKernels() []*gemmKernel { return nil }

// gemmPickShort returns the micro-kernel for C with at most 8 rows: none.
func gemmPickShort() *gemmKernel { return nil }

// gemmPick returns the micro-kernel for C with n columns: none.
func gemmPick(n int) *gemmKernel { return nil }

// gemvOK: there is no gemv kernel.
const gemvOK = false

func gemvDot8(x, w []float32, k int, out *[8]float32) { panic("kernels: no gemv kernel") }
