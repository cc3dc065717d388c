package kernels

import (
	"math/bits"
	"sync"
)

// Scratch buffers whose size grows with the batch (per-worker partial sums
// of the scan, per-row losses, per-worker rows) come from free lists, so a
// training step does not allocate them anew. Each list holds one size
// class: capacities are powers of two, so a buffer given back always fits
// the next request of its class. Unlike sync.Pool, a free list never
// allocates once it has held as many buffers as are in use at once (a
// sync.Pool allocates now and then as buffers move between processors),
// and it keeps its buffers: at most the peak in use per class.
var (
	f32Lists [64]freeList[[]float32]
	f64Lists [64]freeList[[]float64]
)

// freeList is a stack of buffers given back, safe for concurrent use.
type freeList[T any] struct {
	mu    sync.Mutex
	items []*T
}

// get returns a buffer given back earlier, or nil.
func (f *freeList[T]) get() *T {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(f.items)
	if n == 0 {
		return nil
	}
	x := f.items[n-1]
	f.items[n-1] = nil
	f.items = f.items[:n-1]
	return x
}

func (f *freeList[T]) put(x *T) {
	f.mu.Lock()
	f.items = append(f.items, x)
	f.mu.Unlock()
}

// sizeClass returns the class of a request for n elements: the smallest c
// with 1<<c ≥ n.
func sizeClass(n int) int { return bits.Len(uint(max(n, 1) - 1)) }

// getBuf returns a zeroed buffer of n elements from lists, the free lists
// of one element type by size class.
func getBuf[T float32 | float64](lists *[64]freeList[[]T], n int) *[]T {
	c := sizeClass(n)
	v := lists[c].get()
	if v == nil {
		b := make([]T, 1<<c)
		v = &b
	}
	*v = (*v)[:n]
	clear(*v)
	return v
}

// getF32 returns a zeroed buffer of n floats; give it back with putF32.
func getF32(n int) *[]float32 { return getBuf(&f32Lists, n) }

func putF32(b *[]float32) { f32Lists[sizeClass(cap(*b))].put(b) }

// getF64 returns a zeroed buffer of n float64s; give it back with putF64.
func getF64(n int) *[]float64 { return getBuf(&f64Lists, n) }

func putF64(b *[]float64) { f64Lists[sizeClass(cap(*b))].put(b) }
