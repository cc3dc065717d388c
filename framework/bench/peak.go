package bench

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mambakit/mambakit/framework/kernels"
)

// PeakOptions choose what the compute-ceiling benchmark times.
type PeakOptions struct {
	Kernels []string // loop names (kernels.PeakKernelNames); nil: all
	Threads []int    // thread counts, each a goroutine locked to its own OS thread
	Rounds  int      // timed runs of each loop and thread count, interleaved
	MinTime time.Duration
}

// DefaultPeak returns the defaults: every loop, one thread and two.
func DefaultPeak() PeakOptions {
	return PeakOptions{Threads: []int{1, 2}, Rounds: 5, MinTime: 200 * time.Millisecond}
}

// PeakLoops names the compute-ceiling loops Peak can time (PeakOptions.Kernels).
func PeakLoops() []string { return kernels.PeakKernelNames() }

// Peak prints the rate of each compute-ceiling loop (kernels.PeakKernels)
// on each thread count: t goroutines, each locked to an OS thread, run the
// same number of iterations, and a round's rate is t·iterations·flops over
// the wall time from their common start to the last one's end. The best
// of the rounds is the ceiling (a slower round met other work on the
// core); the median shows how steady it was. Loops this CPU or build
// cannot run are listed as skipped.
func Peak(o PeakOptions, stdout io.Writer) error {
	var ks []kernels.PeakKernel
	for _, k := range kernels.PeakKernels() {
		if o.Kernels == nil || slices.Contains(o.Kernels, k.Name) {
			ks = append(ks, k)
		}
	}
	for _, name := range o.Kernels {
		if !slices.Contains(kernels.PeakKernelNames(), name) {
			return fmt.Errorf("bench peak: no loop %q (want %s)", name, strings.Join(kernels.PeakKernelNames(), ", "))
		}
	}
	maxT := slices.Max(o.Threads)
	if prev := runtime.GOMAXPROCS(0); prev < maxT {
		runtime.GOMAXPROCS(maxT)
		defer runtime.GOMAXPROCS(prev)
	}
	if maxT > runtime.NumCPU() {
		fmt.Fprintf(stdout, "note: %d threads on %d CPUs: the threads share cores\n", maxT, runtime.NumCPU())
	}

	var run []kernels.PeakKernel
	iters := map[string]int{}
	for _, k := range ks {
		if k.Skip != "" {
			fmt.Fprintf(stdout, "%s: skipped (%s)\n", k.Name, k.Skip)
			continue
		}
		run = append(run, k)
		iters[k.Name] = peakIterations(k, o.MinTime)
	}
	type key struct {
		name    string
		threads int
	}
	rates := map[key][]float64{}
	// Every round runs every loop at every thread count once, so a burst
	// of other work spreads over all of them.
	for range o.Rounds {
		for _, k := range run {
			for _, t := range o.Threads {
				el := peakRun(k, t, iters[k.Name])
				rates[key{k.Name, t}] = append(rates[key{k.Name, t}], float64(t)*float64(iters[k.Name])*float64(k.Flops)/el.Seconds()/1e9)
			}
		}
	}

	fmt.Fprintf(stdout, "GFLOP/s, best (median) of %d rounds of at least %v; a multiply-add counts 2 flops, a bf16 pair product and its add 2\n", o.Rounds, o.MinTime)
	fmt.Fprintf(stdout, "%-13s", "loop")
	for _, t := range o.Threads {
		fmt.Fprintf(stdout, " %22s", fmt.Sprintf("%d thread(s)", t))
	}
	fmt.Fprintf(stdout, "  %s\n", "what")
	for _, k := range run {
		fmt.Fprintf(stdout, "%-13s", k.Name)
		for _, t := range o.Threads {
			r := rates[key{k.Name, t}]
			fmt.Fprintf(stdout, " %22s", fmt.Sprintf("%.1f (%.1f)", slices.Max(r), median(r)))
		}
		fmt.Fprintf(stdout, "  %s\n", k.What)
	}
	// The ceiling the other benchmarks are judged against: the fastest
	// fp32 assembly loop, per thread count (the Go loop is no ceiling).
	for _, t := range o.Threads {
		best, name := 0.0, ""
		for _, k := range run {
			if r := slices.Max(rates[key{k.Name, t}]); strings.HasPrefix(k.Name, "fp32-") && k.Name != "fp32-go" && r > best {
				best, name = r, k.Name
			}
		}
		if name != "" {
			fmt.Fprintf(stdout, "fp32 ceiling, %d thread(s): %.1f GFLOP/s (%.1f per thread, %s)\n", t, best, best/float64(t), name)
		} else {
			fmt.Fprintf(stdout, "fp32 ceiling, %d thread(s): not measured (no fp32 assembly loop ran)\n", t)
		}
	}
	return nil
}

// peakIterations returns a count of iterations of k that takes at least
// minTime on one thread.
func peakIterations(k kernels.PeakKernel, minTime time.Duration) int {
	n := 1 << 10
	for {
		el := peakRun(k, 1, n)
		if el >= minTime || n >= 1<<40 {
			return n
		}
		// Aim 20% past minTime from the rate so far, at most 100× per try.
		next := int(float64(n) * min(100, 1.2*float64(minTime)/float64(max(el, time.Microsecond))))
		n = max(next, 2*n)
	}
}

// peakRun runs n iterations of k on each of t goroutines, each locked to
// its own OS thread, and returns the wall time from their common start
// (after all are ready) to the end of the last.
func peakRun(k kernels.PeakKernel, t, n int) time.Duration {
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(t)
	done.Add(t)
	for range t {
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			ready.Done()
			<-start
			k.Run(n)
			done.Done()
		}()
	}
	ready.Wait()
	t0 := time.Now()
	close(start)
	done.Wait()
	return time.Since(t0)
}
