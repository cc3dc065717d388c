package kernels

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkScanTrain times the scan's backward (and forward) at the shape
// of one layer of `mambakit bench train`: batch 8 × 512, d_inner 256,
// N 16, gate, Δ bias and D skip, on one thread and on all. cpu-ns/elem
// is the process's CPU time (getrusage) over B·L·D·N: less sensitive than
// the wall time to other work on the machine.
//
//	go test ./framework/kernels -run '^$' -bench 'BenchmarkScanTrain/avx512' -benchtime 200x
func BenchmarkScanTrain(b *testing.B) {
	old := Threads()
	defer SetThreads(old)
	for _, im := range scanImplsUnderTest(b) {
		if im.ref {
			continue
		}
		b.Run(im.name, func(b *testing.B) {
			s, g, elems := scanTrainCase()
			flush := make([]float32, 16<<20)
			for _, th := range []int{1, old} {
				SetThreads(th)
				s.forwardWith(im)
				b.Run(fmt.Sprintf("backward/threads=%d", th), func(b *testing.B) {
					SetThreads(th)
					c0 := cpuTime()
					for b.Loop() {
						s.backwardWith(im, g.g)
					}
					b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N)/elems, "ns/elem")
					b.ReportMetric(float64(cpuTime()-c0)/float64(b.N)/elems, "cpu-ns/elem")
				})
				b.Run(fmt.Sprintf("forward/threads=%d", th), func(b *testing.B) {
					SetThreads(th)
					c0 := cpuTime()
					for b.Loop() {
						s.forwardWith(im)
					}
					b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N)/elems, "ns/elem")
					b.ReportMetric(float64(cpuTime()-c0)/float64(b.N)/elems, "cpu-ns/elem")
				})
				// cold: the caches flushed before every call (a 64 MB buffer
				// written, outside the timing), as in a training step, where
				// the products between two scans evict the scan's rows.
				b.Run(fmt.Sprintf("backward-cold/threads=%d", th), func(b *testing.B) {
					SetThreads(th)
					var cpu time.Duration
					for b.Loop() {
						b.StopTimer()
						for i := 0; i < len(flush); i += 16 {
							flush[i]++
						}
						b.StartTimer()
						c0 := cpuTime()
						s.backwardWith(im, g.g)
						cpu += cpuTime() - c0
					}
					b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N)/elems, "ns/elem")
					b.ReportMetric(float64(cpu)/float64(b.N)/elems, "cpu-ns/elem")
				})
				if th == old {
					break
				}
			}
		})
	}
}

// scanTrainCase is one layer's scan of `mambakit bench train` (8 × 512,
// D 256, N 16, gate, Δ bias, D skip) with its outputs and gradients (no
// DH0) allocated, and its element count B·L·D·N.
func scanTrainCase() (*Scan, *gradSet, float64) {
	c := scanCase{B: 8, L: 512, D: 256, N: 16, gate: true, bias: true, skip: true}
	s := c.build(1)
	B, L, D, N := c.B, c.L, c.D, c.N
	s.Y = make([]float32, B*L*D)
	s.Saved = make([]float32, SavedLen(B, L, D, N))
	g := newGrads(s, randSlice(rand.New(rand.NewPCG(1, 1)), B*L*D, -1, 1), nil, nil)
	g.g.DH0 = nil
	return s, g, float64(B * L * D * N)
}
