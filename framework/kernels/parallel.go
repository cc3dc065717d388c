package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
)

var threads atomic.Int32

func init() { threads.Store(int32(runtime.GOMAXPROCS(0))) }

// SetThreads sets how many goroutines the kernels split work over (n < 1
// means GOMAXPROCS). Results are bit-identical for a fixed thread count.
func SetThreads(n int) {
	if n < 1 {
		n = runtime.GOMAXPROCS(0)
	}
	threads.Store(int32(n))
}

// Threads reports the thread count set by SetThreads.
func Threads() int { return int(threads.Load()) }

// parts returns the number of parts to split n items into: at most the
// thread count, and at most n/minPer so each part has enough work.
func parts(n, minPer int) int {
	p := Threads()
	if minPer < 1 {
		minPer = 1
	}
	if q := n / minPer; q < p {
		p = q
	}
	if p < 1 {
		p = 1
	}
	return p
}

// span returns the half-open range of part w when n items are split into p
// contiguous parts of near-equal size.
func span(n, p, w int) (lo, hi int) {
	return n * w / p, n * (w + 1) / p
}

// parallel runs fn(w, lo, hi) for each of p contiguous parts of [0, n) and
// waits. Part w always gets the same range for the same (n, p).
func parallel(n, p int, fn func(w, lo, hi int)) {
	if p <= 1 {
		fn(0, 0, n)
		return
	}
	var wg sync.WaitGroup
	for w := 1; w < p; w++ {
		lo, hi := span(n, p, w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(w, lo, hi)
		}()
	}
	lo, hi := span(n, p, 0)
	fn(0, lo, hi)
	wg.Wait()
}
