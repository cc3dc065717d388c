package kernels

import "sync"

// Scratch buffers whose size grows with the batch (per-worker partial sums
// of the scan, per-row losses) come from these pools, so a training step
// does not allocate them anew: the kernels' allocations per step stay a
// fixed, small number (closures and goroutines of the work split) whatever
// the batch and sequence length.
var (
	f32Pool sync.Pool // *[]float32
	f64Pool sync.Pool // *[]float64
)

// getF32 returns a zeroed buffer of n floats; give it back with putF32.
func getF32(n int) *[]float32 {
	if v, ok := f32Pool.Get().(*[]float32); ok && cap(*v) >= n {
		*v = (*v)[:n]
		clear(*v)
		return v
	}
	b := make([]float32, n)
	return &b
}

func putF32(b *[]float32) { f32Pool.Put(b) }

// getF64 returns a zeroed buffer of n float64s; give it back with putF64.
func getF64(n int) *[]float64 {
	if v, ok := f64Pool.Get().(*[]float64); ok && cap(*v) >= n {
		*v = (*v)[:n]
		clear(*v)
		return v
	}
	b := make([]float64, n)
	return &b
}

func putF64(b *[]float64) { f64Pool.Put(b) }
