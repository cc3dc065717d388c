//go:build !purego

package kernels

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"
)

// scanAVX512Variants returns the AVX-512 scan and two variants of its
// backward that must give the same bits: single, without the kernels
// over pairs of groups (scanBwd2AVX512), and indirect, with dB and dC
// through the partial sums and their reduction instead of stored straight
// into the gradients.
func scanAVX512Variants() (im, single, indirect *scanImpl) {
	im = scanImplNamed("avx512")
	s := *im
	s.bwd = func(s *Scan, g *ScanGrads, b0, b1, d0, d1 int, part []float32, acc *scanAcc) {
		scanBackwardSIMD(s, g, b0, b1, d0, d1, part, acc, 16, 32, scanBwdAVX512Kernels[scanVariant(s)], nil, scanLaneSumAddAVX512, scanLaneSumSetAVX512, scanAddF64AVX512)
	}
	ind := *im
	ind.bcDirect = false
	return im, &s, &ind
}

// TestScanPairSameBits checks that the AVX-512 backward gives the same
// bits with and without the kernels over pairs of groups, and with dB, dC
// stored straight into the gradients or reduced from partial sums, over
// the cases of TestScanBitsDump (odd numbers of groups, resets, large Δ,
// every B, C variant) on 1, 2 and 3 threads.
func TestScanPairSameBits(t *testing.T) {
	if !scanHasAVX512 || !kernelListed("avx512") {
		t.Skip("no AVX-512 scan under test")
	}
	old := Threads()
	defer SetThreads(old)
	im, single, indirect := scanAVX512Variants()
	for _, th := range []int{1, 2, 3} {
		SetThreads(th)
		for i, c := range scanBitsCases() {
			s, dy, dht := scanBitsInput(c, i)
			s.forwardWith(im)
			var ref []gradField
			var refG *ScanGrads
			for k, x := range []*scanImpl{single, im, indirect} {
				g := newGrads(s, dy, dht, nil).g
				s.backwardWith(x, g)
				if k == 0 {
					ref, refG = gradFields(g), g
					continue
				}
				for _, f := range gradFields(g) {
					got := f.get(g)
					var want []float32
					for _, r := range ref {
						if r.name == f.name {
							want = r.get(refG)
						}
					}
					for j := range got {
						if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
							t.Fatalf("threads %d, %v, variant %d: %s[%d] = %v, want %v (the single-group kernel's)", th, c, k, f.name, j, got[j], want[j])
						}
					}
				}
			}
		}
	}
}

// BenchmarkScanPairAB alternates the AVX-512 backward call by call in one
// process with a variant of it (vs=single: without the kernels over pairs
// of groups, scanBwd2AVX512; vs=indirect: dB and dC through the partial
// sums and their reduction, not stored straight into the gradients) at
// the shape of BenchmarkScanTrain, and reports the median time of each
// ("pair" is the default, "single" the variant) and the median ratio of
// neighbouring calls: on a busy machine the alternation keeps the ratio
// meaningful. cold flushes the caches before every call (outside the
// timing).
//
//	go test ./framework/kernels -run '^$' -bench ScanPairAB -benchtime 40x
func BenchmarkScanPairAB(b *testing.B) {
	if !scanHasAVX512 {
		b.Skip("no AVX-512")
	}
	old := Threads()
	defer SetThreads(old)
	s, g, elems := scanTrainCase()
	im, single, indirect := scanAVX512Variants()
	flush := make([]float32, 16<<20)
	for _, th := range []int{1, old} {
		SetThreads(th)
		s.forwardWith(im)
		for _, cold := range []bool{false, true} {
			for _, other := range []struct {
				name string
				im   *scanImpl
			}{{"single", single}, {"indirect", indirect}} {
				single := other.im
				b.Run(fmt.Sprintf("vs=%s/cold=%v/threads=%d", other.name, cold, th), func(b *testing.B) {
					SetThreads(th)
					var wp, ws, cp, cs, rw, rc []float64
					call := func(x *scanImpl) (time.Duration, time.Duration) {
						if cold {
							for i := 0; i < len(flush); i += 16 {
								flush[i]++
							}
						}
						t0, c0 := time.Now(), cpuTime()
						s.backwardWith(x, g.g)
						return time.Since(t0), cpuTime() - c0
					}
					for i := 0; b.Loop(); i++ {
						var w1, c1, w2, c2 time.Duration
						if i%2 == 0 {
							w1, c1 = call(im)
							w2, c2 = call(single)
						} else {
							w2, c2 = call(single)
							w1, c1 = call(im)
						}
						wp, ws, cp, cs = append(wp, float64(w1)), append(ws, float64(w2)), append(cp, float64(c1)), append(cs, float64(c2))
						rw, rc = append(rw, float64(w1)/float64(w2)), append(rc, float64(c1)/float64(c2))
					}
					med := func(x []float64) float64 { x = slices.Clone(x); slices.Sort(x); return x[len(x)/2] }
					b.ReportMetric(med(wp)/elems, "pair-ns/elem")
					b.ReportMetric(med(ws)/elems, "single-ns/elem")
					b.ReportMetric(med(cp)/elems, "pair-cpu-ns/elem")
					b.ReportMetric(med(cs)/elems, "single-cpu-ns/elem")
					b.ReportMetric(med(rw), "ratio-wall")
					b.ReportMetric(med(rc), "ratio-cpu")
				})
			}
		}
	}
}
