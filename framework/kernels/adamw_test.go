package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// adamWGeneric is the reference for AdamWUpdate: one loop in order, the
// optimizer's update as the backbone wrote it.
func adamWGeneric(p, g, m, v []float32, b1, b2, decay, stepSize, sqrtBC2, eps float32) {
	for i := range p {
		gi := g[i]
		m[i] = b1*m[i] + (1-b1)*gi
		v[i] = b2*v[i] + (1-b2)*gi*gi
		p[i] = p[i]*decay - stepSize*m[i]/(float32(math.Sqrt(float64(v[i])))/sqrtBC2+eps)
	}
}

// TestAdamWUpdate checks AdamWUpdate bit for bit against the serial loop,
// on sizes around the split threshold, at 1 and 3 threads, with p, m, v
// inside guards.
func TestAdamWUpdate(t *testing.T) {
	for _, n := range []int{0, 1, 17, adamWMinPart - 1, adamWMinPart, 2*adamWMinPart + 3, 100001} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			forThreads(t, func(t *testing.T) {
				r := rand.New(rand.NewPCG(9, uint64(n)))
				p0, g := randSlice(r, n, -1, 1), randSlice(r, n, -2, 2)
				m0, v0 := randSlice(r, n, -0.1, 0.1), randSlice(r, n, 0, 0.01)
				if n > 0 {
					g[0], v0[n-1] = 0, 0
				}
				wp, wm, wv := append([]float32(nil), p0...), append([]float32(nil), m0...), append([]float32(nil), v0...)
				const b1, b2, decay, step, sq, eps = 0.9, 0.95, 0.9999, 1.2e-3, 0.3, 1e-8
				adamWGeneric(wp, g, wm, wv, b1, b2, decay, step, sq, eps)
				p, cp := guarded(t, "p", n)
				m, cm := guarded(t, "m", n)
				v, cv := guarded(t, "v", n)
				copy(p, p0)
				copy(m, m0)
				copy(v, v0)
				AdamWUpdate(p, g, m, v, b1, b2, decay, step, sq, eps)
				cp()
				cm()
				cv()
				for i := range n {
					if math.Float32bits(p[i]) != math.Float32bits(wp[i]) || math.Float32bits(m[i]) != math.Float32bits(wm[i]) || math.Float32bits(v[i]) != math.Float32bits(wv[i]) {
						t.Fatalf("element %d: p, m, v = %v, %v, %v, want %v, %v, %v", i, p[i], m[i], v[i], wp[i], wm[i], wv[i])
					}
				}
			})
		})
	}
}

// BenchmarkAdamWUpdate times one update of bench train's model (about
// 0.5 M parameters) on one thread and two.
func BenchmarkAdamWUpdate(b *testing.B) {
	const n = 500_000
	r := rand.New(rand.NewPCG(1, 2))
	p, g, m, v := randSlice(r, n, -1, 1), randSlice(r, n, -1, 1), make([]float32, n), make([]float32, n)
	defer SetThreads(Threads())
	for _, th := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", th), func(b *testing.B) {
			SetThreads(th)
			b.SetBytes(20 * n)
			for b.Loop() {
				AdamWUpdate(p, g, m, v, 0.9, 0.95, 0.9999, 1e-3, 0.3, 1e-8)
			}
		})
	}
}
