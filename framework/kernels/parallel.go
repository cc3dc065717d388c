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
// goroutine, the others on the process's workers (workerPool), each part
// on its own copy of the arguments kept in the team, so a call allocates
// nothing: the training step's hot path stays free of heap allocations.
// Part w always gets the same range for the same (n, p), so results do
// not depend on timing.
//
// A team serves one call at a time. A call that finds it busy (kernels
// called from several goroutines at once) runs on goroutines of its own
// instead, which allocates but computes the same. A call that finds the
// workers busy (a kernel called from inside another's part, or a second
// goroutine's call of another kernel) runs its parts one after another on
// the calling goroutine: the same ranges, so the same results.
type team[T any, P parter[T]] struct {
	mu   sync.Mutex
	args []T // the arguments of each part of the call in progress
}

// run splits [0, n) into p parts of args' work and waits for all of them.
func (tm *team[T, P]) run(n, p int, args T) {
	if !tm.mu.TryLock() {
		runSpawned[T, P](n, p, args)
		return
	}
	defer tm.mu.Unlock()
	p = max(p, 1)
	if cap(tm.args) < p {
		tm.args = make([]T, p)
	}
	tm.args = tm.args[:p]
	for w := range tm.args {
		tm.args[w] = args
	}
	// Drop the references to the caller's buffers when done.
	defer clear(tm.args)
	if p == 1 || !workerPool.mu.TryLock() {
		for w := range p {
			lo, hi := span(n, p, w)
			P(&tm.args[w]).part(w, lo, hi)
		}
		return
	}
	defer workerPool.mu.Unlock()
	workerPool.start(p - 1)
	for w := 1; w < p; w++ {
		lo, hi := span(n, p, w)
		workerPool.list[w-1].post(partJob{tm, w, lo, hi})
	}
	// Wait for the workers even when part 0 panics, so the team and the
	// workers are left idle and consistent.
	defer workerPool.wait(p - 1)
	lo, hi := span(n, p, 0)
	P(&tm.args[0]).part(0, lo, hi)
}

// runPart runs part w of the call in progress (a worker's job).
func (tm *team[T, P]) runPart(w, lo, hi int) { P(&tm.args[w]).part(w, lo, hi) }

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
