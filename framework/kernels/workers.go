package kernels

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// The workers: long-lived goroutines, shared by every team, that run the
// parts of a kernel call past part 0. Between jobs a worker spins for a
// while (WorkerSpin) before it blocks, and so does the caller waiting for
// the workers to finish: the training step makes about a hundred kernel
// calls a step with short serial gaps between them, and a worker that had
// blocked took about 95 µs to start again on the 2-core machine of
// docs/benchmarks.md (its core idle, the hypervisor wakes it), 10 ms of a
// 73 ms bf16 step; the caller's own wake-up when it blocked doubled that.

// partRunner is a team's call in progress: a worker runs part w of it.
type partRunner interface{ runPart(w, lo, hi int) }

// partJob is one part of a call, posted to a worker.
type partJob struct {
	r         partRunner
	w, lo, hi int
}

// poolWorker is one worker goroutine and its mailbox: the caller writes
// job, bumps posted and notifies wake; the worker runs the job and stores
// finished = posted.
type poolWorker struct {
	posted, finished atomic.Uint64
	wake             signal
	job              partJob
	_                [64]byte // keep each worker's counters on lines of their own
}

// pool holds the workers. mu is held by the call whose parts they run
// (one call at a time); a worker that finishes a job notifies done, which
// that caller awaits.
type pool struct {
	mu   sync.Mutex
	list []*poolWorker
	done signal
}

// A signal lets one goroutine wait for a condition that another makes
// true: the waiter spins on the condition, then marks itself asleep,
// looks once more and blocks on ch; the other makes the condition true
// (an atomic store) and then calls notify, which wakes a waiter marked
// asleep. The mark comes before the waiter's last look and notify's look
// at it after the store, so (the atomics being sequentially consistent)
// one of the two sees the other's: a wake-up is never lost. It may be
// stale (ch holds one), and the waiter then looks again.
type signal struct {
	asleep atomic.Bool
	ch     chan struct{} // capacity 1
}

// await returns once ready() holds, spinning for WorkerSpin and then
// blocking until notified.
func (s *signal) await(ready func() bool) {
	sp := newSpinner()
	for !ready() {
		if sp.spin() {
			continue
		}
		s.asleep.Store(true)
		if !ready() {
			<-s.ch
		}
		s.asleep.Store(false)
		sp = newSpinner()
	}
}

// notify wakes the waiter if it is asleep; call it after making its
// condition true.
func (s *signal) notify() {
	if s.asleep.Load() {
		select {
		case s.ch <- struct{}{}:
		default: // a wake-up is pending already
		}
	}
}

// workerPool is the process's workers.
var workerPool pool

// spinFor is how long a worker spins for its next job, and a caller for
// its workers, before blocking (SetWorkerSpin).
var spinFor atomic.Int64

func init() {
	d, err := parseSpin(os.Getenv("MAMBAKIT_SPIN"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "mambakit: %v; spinning %v\n", err, d)
	}
	spinFor.Store(int64(d))
}

// parseSpin reads $MAMBAKIT_SPIN: a Go duration ("200us", "1ms", "0");
// empty, or on an error, the default.
func parseSpin(s string) (time.Duration, error) {
	if s == "" {
		return defaultWorkerSpin, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return defaultWorkerSpin, fmt.Errorf("$MAMBAKIT_SPIN=%q: want a duration such as 200us, or 0", s)
	}
	return d, nil
}

// defaultWorkerSpin covers the serial gaps between the kernel calls of a
// training step (docs/kernels.md, "Workers").
const defaultWorkerSpin = 500 * time.Microsecond

// SetWorkerSpin sets how long the kernels' workers spin for their next job
// (and a kernel call for its workers) before blocking: 0 blocks at once.
// $MAMBAKIT_SPIN sets the initial value (a Go duration, e.g. 200us).
func SetWorkerSpin(d time.Duration) { spinFor.Store(int64(max(d, 0))) }

// WorkerSpin reports how long workers spin before blocking.
func WorkerSpin() time.Duration { return time.Duration(spinFor.Load()) }

// start makes sure at least k workers run. The caller holds mu.
func (p *pool) start(k int) {
	if p.done.ch == nil {
		p.done.ch = make(chan struct{}, 1)
	}
	for len(p.list) < k {
		wk := &poolWorker{wake: signal{ch: make(chan struct{}, 1)}}
		p.list = append(p.list, wk)
		go wk.loop()
	}
}

// post gives the worker its next job.
func (wk *poolWorker) post(j partJob) {
	wk.job = j
	wk.posted.Add(1)
	wk.wake.notify()
}

// loop is a worker's life: wait for a job, run it, say so.
func (wk *poolWorker) loop() {
	var seen uint64
	for {
		seen = wk.next(seen)
		j := wk.job
		wk.job = partJob{} // before finished: the next post may follow it at once
		j.r.runPart(j.w, j.lo, j.hi)
		wk.finished.Store(seen)
		workerPool.done.notify()
	}
}

// next waits for the job after the seen'th (spinning, then blocking) and
// returns its number (posted changes again only after this job is done).
func (wk *poolWorker) next(seen uint64) uint64 {
	wk.wake.await(func() bool { return wk.posted.Load() != seen })
	return wk.posted.Load()
}

// wait returns when the first k workers have finished their jobs: the
// caller spins, then blocks until a worker notifies done.
func (p *pool) wait(k int) {
	p.done.await(func() bool { return p.finished(k) })
}

// spinner times one spell of spinning: spin is called between looks at
// a counter and says whether to keep spinning (false: WorkerSpin has
// passed since the spell began, time to block). Every spinCheck calls it
// reads the clock and pauses (spinPause).
type spinner struct {
	t0    time.Time
	limit time.Duration
	i     int
}

func newSpinner() spinner { return spinner{t0: time.Now(), limit: time.Duration(spinFor.Load())} }

func (s *spinner) spin() bool {
	s.i++
	if s.i%spinCheck != 0 {
		return true
	}
	if time.Since(s.t0) >= s.limit {
		return false
	}
	spinPause()
	return true
}

// spinPause lets other goroutines (more kernel threads than GOMAXPROCS,
// the garbage collector) and other processes have this thread's processor
// for a moment: on a machine shared with other work, spinning without it
// measured slower than blocking (docs/kernels.md, "Workers").
func spinPause() {
	runtime.Gosched()
	yieldThread()
}

// spinCheck is how many looks at a counter a spinning goroutine makes
// between looks at the clock.
const spinCheck = 64

// finished reports whether the first k workers have finished every job
// posted to them.
func (p *pool) finished(k int) bool {
	for _, wk := range p.list[:k] {
		if wk.finished.Load() != wk.posted.Load() {
			return false
		}
	}
	return true
}
