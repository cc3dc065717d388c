package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkComplexScan times forward and backward of every complex scan
// implementation under test (the fused Go code and the SIMD kernels, in
// the same run) at the shape of examples/compare/spectrum.yaml (B=8,
// L=1024, D=256, N=16, gate, Δ bias, D skip), in the two complex variants
// of that comparison: s6 (selective Δ, B, C, all complex) and lti
// (S4D-Lin: zero Delta plus a per-channel DeltaBias, per-channel complex B
// and C), on one thread and on all. ns/elem is wall time over B·L·D·N.
//
//	go test ./framework/kernels -run '^$' -bench 'BenchmarkComplexScan/.*/.*/.*/.*/threads=1' -count 5
func BenchmarkComplexScan(b *testing.B) {
	c := scanCase{B: 8, L: 1024, D: 256, N: 16, gate: true, bias: true, skip: true}
	per := c
	per.bPer, per.cPer = true, true
	cases := []struct {
		name string
		cc   complexFastCase
	}{
		{"s6", complexFastCase{c: c, imagB: true, imagC: true}},
		{"lti", complexFastCase{c: per, imagB: true, imagC: true, lti: true}},
	}
	old := Threads()
	defer SetThreads(old)
	for _, k := range cases {
		cc := k.cc
		B, L, D, N := cc.c.B, cc.c.L, cc.c.D, cc.c.N
		s := cc.build(1)
		s.Y = make([]float32, B*L*D)
		s.Saved = make([]float32, SavedLen(B, L, D, 2*N))
		g := &ScanGrads{DY: randSlice(rand.New(rand.NewPCG(1, 1)), B*L*D, -1, 1),
			DU: make([]float32, B*L*D), DDelta: make([]float32, B*L*D), DZ: make([]float32, B*L*D),
			DDeltaBias: make([]float32, D), DDskip: make([]float32, D),
			DA: make([]float32, D*N), DAImag: make([]float32, D*N),
			DBm: make([]float32, s.bLen(s.BPerChannel)), DBImag: make([]float32, s.bLen(s.BPerChannel)),
			DCm: make([]float32, s.bLen(s.CPerChannel)), DCImag: make([]float32, s.bLen(s.CPerChannel)),
			DH0: make([]float32, B*D*2*N)}
		elems := float64(B * L * D * N)
		b.Run(fmt.Sprintf("%s/%dx%dx%dx%d", k.name, B, L, D, N), func(b *testing.B) {
			for _, im := range complexImplsUnderTest(b) {
				b.Run(im.name, func(b *testing.B) {
					for _, th := range []int{1, old} {
						b.Run(fmt.Sprintf("forward/threads=%d", th), func(b *testing.B) {
							SetThreads(th)
							for b.Loop() {
								s.complexForwardWith(im)
							}
							b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N)/elems, "ns/elem")
						})
						b.Run(fmt.Sprintf("backward/threads=%d", th), func(b *testing.B) {
							SetThreads(th)
							s.complexForwardWith(im)
							for b.Loop() {
								s.complexBackwardWith(im, g)
							}
							b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N)/elems, "ns/elem")
						})
						if th == old {
							break
						}
					}
				})
			}
		})
	}
}
