package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// complexCase builds a complex scan (S4D-Lin-like A: real part negative,
// imaginary part up to πN) from a real scanCase.
func complexCase(c scanCase, seed uint64, imagB, imagC bool) *Scan {
	s := c.build(seed)
	r := rand.New(rand.NewPCG(seed, 99))
	s.AImag = randSlice(r, c.D*c.N, 0, float32(math.Pi)*float32(c.N))
	if imagB {
		s.BImag = randSlice(r, c.bcLen(c.bPer), -1, 1)
	}
	if imagC {
		s.CImag = randSlice(r, c.bcLen(c.cPer), -1, 1)
	}
	if c.h0 {
		s.H0 = randSlice(r, c.B*c.D*2*c.N, -1, 1)
	}
	return s
}

var complexCases = []struct {
	c            scanCase
	imagB, imagC bool
}{
	{scanCase{B: 1, L: 1, D: 1, N: 1}, true, true},
	{scanCase{B: 2, L: 70, D: 3, N: 4, gate: true, reset: true, bias: true, skip: true, h0: true, dht: true}, true, true},
	{scanCase{B: 1, L: 17, D: 5, N: 3, bias: true, skip: true}, false, false},
	{scanCase{B: 2, L: 9, D: 2, N: 3, gate: true, bias: true, h0: true, dht: true, bPer: true, cPer: true}, true, true},
	{scanCase{B: 3, L: 130, D: 2, N: 2, reset: true, bias: true, skip: true, cPer: true}, false, true},
}

func TestComplexScanForwardMatchesReference(t *testing.T) {
	for _, cc := range complexCases {
		t.Run(fmt.Sprintf("%v/imagB=%v,imagC=%v", cc.c, cc.imagB, cc.imagC), func(t *testing.T) {
			forThreads(t, func(t *testing.T) {
				c := cc.c
				s := complexCase(c, 1, cc.imagB, cc.imagC)
				want, wantHT := make([]float32, c.B*c.L*c.D), make([]float32, c.B*c.D*2*c.N)
				s.Y, s.HT = want, wantHT
				s.ForwardRef()
				y, cy := guarded(t, "Y", c.B*c.L*c.D)
				ht, cht := guarded(t, "HT", c.B*c.D*2*c.N)
				s.Y, s.HT, s.Saved = y, ht, make([]float32, SavedLen(c.B, c.L, c.D, 2*c.N))
				s.Forward()
				cy()
				cht()
				checkClose(t, "Y", y, want, tolScan)
				checkClose(t, "HT", ht, wantHT, tolScan)
			})
		})
	}
}

// TestComplexScanBackwardFiniteDifferences checks every gradient of the
// complex scan against central differences of the complex128 reference.
func TestComplexScanBackwardFiniteDifferences(t *testing.T) {
	for _, cc := range complexCases[1:4] {
		t.Run(fmt.Sprintf("%v/imagB=%v,imagC=%v", cc.c, cc.imagB, cc.imagC), func(t *testing.T) {
			c := cc.c
			s := complexCase(c, 4, cc.imagB, cc.imagC)
			B, L, D, N := c.B, c.L, c.D, c.N
			r := rand.New(rand.NewPCG(5, 5))
			R := randSlice(r, B*L*D, -1, 1)
			S := randSlice(r, B*D*2*N, -1, 1)
			s.Y, s.HT = make([]float32, B*L*D), make([]float32, B*D*2*N)
			s.Saved = make([]float32, SavedLen(B, L, D, 2*N))
			s.Forward()
			g := &ScanGrads{DY: R, DHT: S,
				DU: make([]float32, B*L*D), DDelta: make([]float32, B*L*D), DDeltaBias: make([]float32, D),
				DA: make([]float32, D*N), DAImag: make([]float32, D*N),
				DBm: make([]float32, c.bcLen(c.bPer)), DCm: make([]float32, c.bcLen(c.cPer)),
				DDskip: make([]float32, D), DH0: make([]float32, B*D*2*N)}
			if s.Z != nil {
				g.DZ = make([]float32, B*L*D)
			}
			if s.BImag != nil {
				g.DBImag = make([]float32, c.bcLen(c.bPer))
			}
			if s.CImag != nil {
				g.DCImag = make([]float32, c.bcLen(c.cPer))
			}
			s.Backward(g)
			loss := func() float64 {
				s.complexForwardRef()
				var l float64
				for i, v := range s.Y {
					l += float64(v) * float64(R[i])
				}
				for i, v := range s.HT {
					l += float64(v) * float64(S[i])
				}
				return l
			}
			inputs := []struct {
				name    string
				x, grad []float32
			}{
				{"U", s.U, g.DU}, {"Delta", s.Delta, g.DDelta}, {"DeltaBias", s.DeltaBias, g.DDeltaBias},
				{"A", s.A, g.DA}, {"AImag", s.AImag, g.DAImag}, {"Bm", s.Bm, g.DBm}, {"Cm", s.Cm, g.DCm},
				{"BImag", s.BImag, g.DBImag}, {"CImag", s.CImag, g.DCImag}, {"Dskip", s.Dskip, g.DDskip},
				{"Z", s.Z, g.DZ}, {"H0", s.H0, g.DH0},
			}
			const eps = 1e-2
			for _, in := range inputs {
				if in.x == nil {
					continue
				}
				num := make([]float32, len(in.x))
				for i := range in.x {
					x0 := in.x[i]
					in.x[i] = x0 + eps
					lp := loss()
					in.x[i] = x0 - eps
					lm := loss()
					in.x[i] = x0
					num[i] = float32((lp - lm) / (2 * eps))
				}
				if e, at := scaleErr(in.grad, num, 1e-2); e > 5e-3 {
					t.Errorf("d loss/d %s: scale error %.3g vs finite differences (index %d: %v vs %v)", in.name, e, at, in.grad[at], num[at])
				}
			}
		})
	}
}
