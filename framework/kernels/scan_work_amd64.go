//go:build !purego

package kernels

import "unsafe"

// scanWork is one worker's scratch for a SIMD scan call: the kernel's
// argument block (it reaches the assembly through a func value, so it
// lives on the heap) and the per-call buffers. Calls take one from
// scanWorks and give it back, so a training step allocates nothing.
type scanWork struct {
	fwd scanFwdArgs
	bwd scanBwdArgs
	f32 [12][]float32
	f64 [6][]float64
	n32 int // buffers of f32 handed out by this call
	n64 int
}

var scanWorks freeList[scanWork]

func getScanWork() *scanWork {
	w := scanWorks.get()
	if w == nil {
		w = new(scanWork)
	}
	w.n32, w.n64 = 0, 0
	return w
}

func (w *scanWork) put() { scanWorks.put(w) }

// floats returns the call's next buffer: n zeroed floats.
func (w *scanWork) floats(n int) []float32 { return nextBuf(w.f32[:], &w.n32, n) }

// float64s returns the call's next buffer: n zeroed float64s.
func (w *scanWork) float64s(n int) []float64 { return nextBuf(w.f64[:], &w.n64, n) }

// nextBuf hands out bufs[*next] (grown to n, zeroed) and advances *next.
func nextBuf[T float32 | float64](bufs [][]T, next *int, n int) []T {
	x := nextBufDirty(bufs, next, n)
	clear(x)
	return x
}

// nextBufDirty is nextBuf without the zeroing: the buffer holds what the
// last call left there (zeros when new).
func nextBufDirty[T float32 | float64](bufs [][]T, next *int, n int) []T {
	b := &bufs[*next]
	*next++
	if cap(*b) < n {
		*b = make([]T, n)
	}
	return (*b)[:n:n]
}

// aligned returns n zeroed floats that start k·1088 bytes (17 cache lines)
// past a 4 KB boundary: buffers at different offsets modulo 4 KB, so that
// loads from one do not falsely alias stores to another.
func (w *scanWork) aligned(n, k int) []float32 {
	x := w.alignedDirty(n, k)
	clear(x)
	return x
}

// alignedDirty is aligned without the zeroing, for scratch that the
// kernels write before they read it.
func (w *scanWork) alignedDirty(n, k int) []float32 {
	buf := nextBufDirty(w.f32[:], &w.n32, n+2048)
	off := int((4096 - uintptr(unsafe.Pointer(&buf[0]))%4096) % 4096 / 4)
	off += k * 272 % 1024
	return buf[off : off+n : off+n]
}
