package kernels

import (
	"math/bits"
	"sync"
)

// Scratch buffers whose size grows with the batch (per-worker partial sums
// of the scan, per-row losses, per-worker rows) come from these pools, so a
// training step does not allocate them anew. Each pool holds one size
// class: capacities are powers of two, so a buffer given back always fits
// the next request of its class.
var (
	f32Pools [64]sync.Pool // *[]float32 of capacity 1<<class
	f64Pools [64]sync.Pool // *[]float64 of capacity 1<<class
)

// sizeClass returns the class of a request for n elements: the smallest c
// with 1<<c ≥ n.
func sizeClass(n int) int { return bits.Len(uint(max(n, 1) - 1)) }

// getF32 returns a zeroed buffer of n floats; give it back with putF32.
func getF32(n int) *[]float32 {
	c := sizeClass(n)
	v, ok := f32Pools[c].Get().(*[]float32)
	if !ok {
		b := make([]float32, 1<<c)
		v = &b
	}
	*v = (*v)[:n]
	clear(*v)
	return v
}

func putF32(b *[]float32) { f32Pools[sizeClass(cap(*b))].Put(b) }

// getF64 returns a zeroed buffer of n float64s; give it back with putF64.
func getF64(n int) *[]float64 {
	c := sizeClass(n)
	v, ok := f64Pools[c].Get().(*[]float64)
	if !ok {
		b := make([]float64, 1<<c)
		v = &b
	}
	*v = (*v)[:n]
	clear(*v)
	return v
}

func putF64(b *[]float64) { f64Pools[sizeClass(cap(*b))].Put(b) }
