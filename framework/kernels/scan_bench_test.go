package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkScan times forward and backward of every implementation under
// test at the shape (B=8, L=2048, D=512, N=16; not the
// materializing reference, which would need 4 GB) and a small one, on one
// thread and on all, and the shape with per-channel B and C (each
// and both: suffix -perB, -perC, -perBC). ns/elem is wall time over
// B·L·D·N.
//
//	go test ./framework/kernels -run '^$' -bench 'BenchmarkScan/avx512/8x2048x512x16/' -count 5
//	go test ./framework/kernels -run '^$' -bench 'BenchmarkScan/avx512/8x2048x512x16-per' -count 5
func BenchmarkScan(b *testing.B) {
	shapes := []scanCase{
		{B: 8, L: 2048, D: 512, N: 16, gate: true, bias: true, skip: true},
		{B: 2, L: 256, D: 128, N: 16, gate: true, bias: true, skip: true},
		{B: 8, L: 2048, D: 512, N: 16, gate: true, bias: true, skip: true, bPer: true},
		{B: 8, L: 2048, D: 512, N: 16, gate: true, bias: true, skip: true, cPer: true},
		{B: 8, L: 2048, D: 512, N: 16, gate: true, bias: true, skip: true, bPer: true, cPer: true},
	}
	old := Threads()
	defer SetThreads(old)
	for _, im := range scanImplsUnderTest(b) {
		b.Run(im.name, func(b *testing.B) {
			for _, c := range shapes {
				if im.ref && c.B*c.L*c.D*c.N > 1<<24 {
					continue
				}
				per := ""
				if c.bPer || c.cPer {
					per = "-per"
					if c.bPer {
						per += "B"
					}
					if c.cPer {
						per += "C"
					}
				}
				b.Run(fmt.Sprintf("%dx%dx%dx%d%s", c.B, c.L, c.D, c.N, per), func(b *testing.B) {
					benchScan(b, im, c, old)
				})
			}
		})
	}
}

func benchScan(b *testing.B, im *scanImpl, c scanCase, maxThreads int) {
	s := c.build(1)
	B, L, D, N := c.B, c.L, c.D, c.N
	s.Y = make([]float32, B*L*D)
	s.Saved = make([]float32, SavedLen(B, L, D, N))
	g := newGrads(s, randSlice(rand.New(rand.NewPCG(1, 1)), B*L*D, -1, 1), nil, nil)
	elems := float64(B * L * D * N)
	for _, th := range []int{1, maxThreads} {
		if th == 1 && maxThreads == 1 && th != maxThreads {
			continue
		}
		b.Run(fmt.Sprintf("forward/threads=%d", th), func(b *testing.B) {
			SetThreads(th)
			b.SetBytes(int64(4 * (4*B*L*D + c.bcLen(c.bPer) + c.bcLen(c.cPer))))
			for b.Loop() {
				s.forwardWith(im)
			}
			b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N)/elems, "ns/elem")
			b.ReportMetric(float64(B*L)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
		b.Run(fmt.Sprintf("backward/threads=%d", th), func(b *testing.B) {
			SetThreads(th)
			s.forwardWith(im)
			b.SetBytes(int64(4 * (9*B*L*D + 2*c.bcLen(c.bPer) + 2*c.bcLen(c.cPer))))
			for b.Loop() {
				s.backwardWith(im, g.g)
			}
			b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N)/elems, "ns/elem")
			b.ReportMetric(float64(B*L)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
		if th == maxThreads {
			break
		}
	}
}
