package kernels

import (
	"math"
	"testing"
)

// FuzzMatMul compares every implementation with the reference on random
// shapes (m, n, k < 80, any transposes, beta 0, 1 or -0.5), inputs with
// NaN/Inf edge values, and 1–3 threads.
func FuzzMatMul(f *testing.F) {
	f.Add(uint8(3), uint8(17), uint8(33), uint8(0), uint8(0), uint8(1))
	f.Add(uint8(14), uint8(32), uint8(1), uint8(3), uint8(1), uint8(2))
	f.Add(uint8(29), uint8(5), uint8(70), uint8(2), uint8(2), uint8(3))
	f.Add(uint8(8), uint8(77), uint8(40), uint8(1), uint8(4), uint8(2))
	fuzzMatMulImpls(f, matMulImpls(), matMulGeneric, 1e-5*8)
}

// fuzzMatMulImpls is the body of the matrix-product fuzz tests: every
// implementation in impls against ref (the scalar reference) on the
// fuzzed case, |got − want| ≤ tol·√(k+1)·max(1, |want|), non-finite where
// the reference is.
func fuzzMatMulImpls(f *testing.F, impls []matMulImpl, ref matMulFunc, tol float64) {
	f.Fuzz(func(t *testing.T, m8, n8, k8, tr, flags, th uint8) {
		m, n, k := int(m8%80), int(n8%80), int(k8%80)
		if m == 0 || n == 0 || k == 0 {
			t.Skip()
		}
		cs := mmCase{tr&1 != 0, tr&2 != 0, m, n, k, []float32{0, 1, -0.5}[flags%3]}
		old := Threads()
		defer SetThreads(old)
		SetThreads(1 + int(th%3))
		a, b, c0 := mmInputs(cs)
		if flags&4 != 0 { // an edge value in a: its row of c must be NaN or Inf everywhere
			a[int(k8)%len(a)] = []float32{float32(math.NaN()), float32(math.Inf(1))}[flags>>3&1]
		}
		want := append([]float32(nil), c0...)
		ref(cs.tA, cs.tB, cs.m, cs.n, cs.k, a, b, cs.beta, want)
		for _, im := range impls {
			if im.skip != "" {
				continue
			}
			got, cg := guarded(t, im.name+" c", m*n)
			copy(got, c0)
			im.fn(cs.tA, cs.tB, m, n, k, a, b, cs.beta, got)
			cg()
			for i := range got {
				g, w := float64(got[i]), float64(want[i])
				if math.IsNaN(w) || math.IsInf(w, 0) {
					if !math.IsNaN(g) && !math.IsInf(g, 0) {
						t.Fatalf("%s %v: c[%d] = %v, want non-finite %v", im.name, cs, i, g, w)
					}
					continue
				}
				if math.Abs(g-w) > tol*math.Sqrt(float64(k)+1)*max(1, math.Abs(w)) {
					t.Fatalf("%s %v: c[%d] = %v, want %v", im.name, cs, i, g, w)
				}
			}
		}
	})
}
