package kernels

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
)

// Matrix-multiply backends, chosen by SetBLAS.
const (
	blasAuto int32 = iota
	blasGo
	blasOpenBLAS
	blasGonum
)

var (
	blasChoice   atomic.Int32 // what SetBLAS asked for
	blasResolved atomic.Int32 // blasChoice with auto resolved, or -1 before
	autoOnce     sync.Once
	autoResult   int32
)

// The initial choice is auto, or $MAMBAKIT_BLAS when it names a backend
// (for commands without --blas; an unknown or unloadable name is ignored).
func init() {
	blasResolved.Store(-1)
	if name := os.Getenv("MAMBAKIT_BLAS"); name != "" {
		SetBLAS(name)
	}
}

// SetBLAS chooses the matrix-multiply backend of MatMul:
//
//	auto      go where this CPU runs the Go assembly kernels, else OpenBLAS when a CBLAS library loads (see OpenBLASInfo), else go (the default)
//	go        the pure-Go path: AVX-512 / AVX2+FMA micro-kernels in Go assembly, gonum without them
//	openblas  cblas_sgemm from libopenblas (or $MAMBAKIT_CBLAS), loaded at run time; an error when absent
//	gonum     gonum's blas32 (for comparison)
//
// It is not safe to call while a MatMul runs.
func SetBLAS(name string) error {
	switch name {
	case "auto", "":
		blasChoice.Store(blasAuto)
		blasResolved.Store(-1)
	case "go":
		blasChoice.Store(blasGo)
		blasResolved.Store(blasGo)
	case "gonum":
		blasChoice.Store(blasGonum)
		blasResolved.Store(blasGonum)
	case "openblas":
		if err := loadOpenBLAS(); err != nil {
			return fmt.Errorf("kernels: --blas openblas: %w", err)
		}
		blasChoice.Store(blasOpenBLAS)
		blasResolved.Store(blasOpenBLAS)
	default:
		return fmt.Errorf("kernels: unknown BLAS %q: want auto, go, openblas or gonum", name)
	}
	return nil
}

// BLAS reports the backend MatMul uses: "openblas", "go" or "gonum" (auto
// resolved, which may load OpenBLAS).
func BLAS() string {
	switch currentBLAS() {
	case blasOpenBLAS:
		return "openblas"
	case blasGonum:
		return "gonum"
	}
	return "go"
}

// GoGemmKernel names the micro-kernel of the Go backend on this CPU:
// "avx512", "avx2", or "gonum" where there is no assembly.
func GoGemmKernel() string {
	if k := gemmPick(1 << 20); k != nil {
		return k.name
	}
	return "gonum"
}

func currentBLAS() int32 {
	if r := blasResolved.Load(); r >= 0 {
		return r
	}
	autoOnce.Do(func() {
		// The Go assembly kernels match or beat OpenBLAS on the model's
		// shapes (docs/benchmarks.md), and a training step is faster with
		// them; OpenBLAS is chosen only where they are missing.
		autoResult = blasGo
		if len(gemmKernels()) == 0 && loadOpenBLAS() == nil {
			autoResult = blasOpenBLAS
		}
	})
	if blasChoice.Load() == blasAuto {
		blasResolved.Store(autoResult)
	}
	return autoResult
}
