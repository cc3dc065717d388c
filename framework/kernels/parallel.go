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

// parter is a kernel call's arguments (T) whose pointer runs part w, items
// [lo, hi), of the call's work.
type parter[T any] interface {
	*T
	part(w, lo, hi int)
}

// A team runs the parts of one kind of kernel call: part 0 on the calling
// goroutine, the others on long-lived worker goroutines. The arguments
// travel by value (over a channel, and into the team's own slot for part
// 0), so a call allocates nothing: the training step's hot path stays free
// of heap allocations. Part w always gets the same range for the same
// (n, p), so results do not depend on timing.
//
// A team serves one call at a time. A call that finds it busy (kernels
// called from several goroutines at once, or from inside a part) runs on
// goroutines of its own instead, which allocates but computes the same.
type team[T any, P parter[T]] struct {
	mu      sync.Mutex
	started int             // worker goroutines started
	jobs    chan teamJob[T] // parts 1..p−1
	done    chan struct{}   // one per finished part
	self    T               // the arguments of part 0
}

type teamJob[T any] struct {
	args      T
	w, lo, hi int
}

// run splits [0, n) into p parts of args' work and waits for all of them.
func (tm *team[T, P]) run(n, p int, args T) {
	if !tm.mu.TryLock() {
		runSpawned[T, P](n, p, args)
		return
	}
	if tm.jobs == nil {
		tm.jobs = make(chan teamJob[T])
		tm.done = make(chan struct{}, 64)
	}
	for ; tm.started < p-1; tm.started++ {
		go tm.worker()
	}
	for w := 1; w < p; w++ {
		lo, hi := span(n, p, w)
		tm.jobs <- teamJob[T]{args: args, w: w, lo: lo, hi: hi}
	}
	pending := max(p-1, 0)
	// Wait for the workers even when part 0 panics, so the team is left
	// idle and consistent.
	defer func() {
		for ; pending > 0; pending-- {
			<-tm.done
		}
		var zero T
		tm.self = zero
		tm.mu.Unlock()
	}()
	tm.self = args
	lo, hi := span(n, max(p, 1), 0)
	P(&tm.self).part(0, lo, hi)
}

func (tm *team[T, P]) worker() {
	var j teamJob[T] // one variable for the worker's life: no allocation per part
	for j = range tm.jobs {
		P(&j.args).part(j.w, j.lo, j.hi)
		j = teamJob[T]{} // drop the references to the caller's buffers
		tm.done <- struct{}{}
	}
}

// runSpawned runs the parts of args on one goroutine each.
//
//go:noinline
func runSpawned[T any, P parter[T]](n, p int, args T) {
	p = max(p, 1)
	var wg sync.WaitGroup
	for w := 1; w < p; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := args
			lo, hi := span(n, p, w)
			P(&a).part(w, lo, hi)
		}()
	}
	a := args
	lo, hi := span(n, p, 0)
	P(&a).part(0, lo, hi)
	wg.Wait()
}

// funcParts adapts a closure to a team, for calls off the training step's
// hot path (the closure itself is allocated on every call).
type funcParts struct{ fn func(w, lo, hi int) }

func (f *funcParts) part(w, lo, hi int) { f.fn(w, lo, hi) }

var funcTeam team[funcParts, *funcParts]

// parallel runs fn(w, lo, hi) for each of p contiguous parts of [0, n) and
// waits. Part w always gets the same range for the same (n, p).
func parallel(n, p int, fn func(w, lo, hi int)) {
	if p <= 1 {
		fn(0, 0, n)
		return
	}
	funcTeam.run(n, p, funcParts{fn})
}
