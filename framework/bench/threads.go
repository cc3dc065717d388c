package bench

import (
	"runtime"

	"github.com/mambakit/mambakit/framework/kernels"
)

// useCPU applies a CPU benchmark's threads and matrix-multiply back end:
// threads to the kernels and to the Go scheduler (the matrix multiply
// splits over GOMAXPROCS; 0 keeps all cores), blas to the kernels (""
// keeps the current one).
func useCPU(threads int, blas string) error {
	if blas != "" {
		if err := kernels.SetBLAS(blas); err != nil {
			return err
		}
	}
	if threads > 0 {
		runtime.GOMAXPROCS(threads)
	}
	kernels.SetThreads(threads)
	return nil
}
