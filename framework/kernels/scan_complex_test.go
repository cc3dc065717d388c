package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
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
				return probeLoss(s, R, S)
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

// complexFastCases exercise the SIMD complex kernels: D past one or more
// vector widths with channels left over for the Go code, L not a multiple
// of ScanChunk, resets, H0/HT, DHT, every mix of selective and
// per-channel B and C, real or complex B and C, and LTI scans (Delta
// constant over time per channel: the kernels' precomputed-Ā variant).
type complexFastCase struct {
	c                 scanCase
	imagB, imagC, lti bool
}

var complexFastCases = []complexFastCase{
	{scanCase{B: 2, L: 70, D: 19, N: 4, gate: true, reset: true, bias: true, skip: true, h0: true, dht: true}, true, true, false},
	{scanCase{B: 1, L: 130, D: 37, N: 3, bias: true, skip: true}, false, false, false},
	{scanCase{B: 2, L: 65, D: 33, N: 5, gate: true, bias: true, h0: true, dht: true, bPer: true, cPer: true}, true, true, true},
	{scanCase{B: 2, L: 65, D: 33, N: 5, gate: true, bias: true, reset: true, h0: true, dht: true, bPer: true, cPer: true}, true, false, false},
	{scanCase{B: 3, L: 64, D: 16, N: 2, reset: true, bias: true, skip: true, cPer: true}, false, true, false},
	{scanCase{B: 1, L: 9, D: 48, N: 7, bPer: true}, true, false, true}, // too short for the LTI kernels
	{scanCase{B: 1, L: 130, D: 48, N: 7, bPer: true}, true, false, true},
	{scanCase{B: 2, L: 100, D: 32, N: 8, reset: true, bias: true, skip: true, h0: true, dht: true, bPer: true, cPer: true}, true, true, true},
	{scanCase{B: 2, L: 129, D: 24, N: 1, gate: true, bias: true, skip: true, dht: true, cPer: true}, true, true, true},
	{scanCase{B: 1, L: 200, D: 17, N: 16, gate: true, reset: true, bias: true, skip: true, h0: true, dht: true}, false, true, true},
	{scanCase{B: 2, L: 70, D: 20, N: 64, gate: true, reset: true, bias: true, skip: true, h0: true, dht: true}, true, true, false},
	{scanCase{B: 2, L: 70, D: 20, N: 33, bias: true, skip: true, dht: true, bPer: true, cPer: true}, true, true, true},
}

func (cc complexFastCase) build(seed uint64) *Scan {
	s := complexCase(cc.c, seed, cc.imagB, cc.imagC)
	if cc.lti {
		// Δ constant per channel: the backbone's zero Delta (per-channel
		// DeltaBias); without a bias, a per-channel constant Delta.
		D := cc.c.D
		for i := range s.Delta {
			if s.DeltaBias != nil {
				s.Delta[i] = 0
			} else {
				s.Delta[i] = s.Delta[i%D]
			}
		}
	}
	return s
}

// complexImplsUnderTest returns the complex implementations this machine
// runs, narrowed by MAMBAKIT_KERNEL like scanImplsUnderTest.
func complexImplsUnderTest(t testing.TB) []*complexImpl {
	var out []*complexImpl
	for _, im := range complexImpls {
		if im.available && kernelListed(im.name) {
			out = append(out, im)
		}
	}
	if len(out) == 0 {
		t.Skipf("MAMBAKIT_KERNEL=%q names no complex scan implementation (have %v)", os.Getenv("MAMBAKIT_KERNEL"), ComplexScanImpls())
	}
	return out
}

// complexGrads allocates every gradient of s, guarded.
func complexGrads(t *testing.T, s *Scan, dy, dht []float32) (*ScanGrads, func()) {
	B, L, D, N := s.B, s.L, s.D, s.N
	var checks []func()
	alloc := func(name string, n int, on bool) []float32 {
		if !on {
			return nil
		}
		x, c := guarded(t, name, n)
		checks = append(checks, c)
		return x
	}
	g := &ScanGrads{DY: dy, DHT: dht,
		DU: alloc("DU", B*L*D, true), DDelta: alloc("DDelta", B*L*D, true),
		DDeltaBias: alloc("DDeltaBias", D, s.DeltaBias != nil), DDskip: alloc("DDskip", D, s.Dskip != nil),
		DA: alloc("DA", D*N, true), DAImag: alloc("DAImag", D*N, true),
		DBm: alloc("DBm", s.bLen(s.BPerChannel), true), DCm: alloc("DCm", s.bLen(s.CPerChannel), true),
		DBImag: alloc("DBImag", s.bLen(s.BPerChannel), s.BImag != nil),
		DCImag: alloc("DCImag", s.bLen(s.CPerChannel), s.CImag != nil),
		DZ:     alloc("DZ", B*L*D, s.Z != nil), DH0: alloc("DH0", B*D*2*N, true)}
	return g, func() {
		for _, c := range checks {
			c()
		}
	}
}

func complexGradFields(g *ScanGrads) map[string][]float32 {
	return map[string][]float32{"DU": g.DU, "DDelta": g.DDelta, "DDeltaBias": g.DDeltaBias, "DDskip": g.DDskip,
		"DA": g.DA, "DAImag": g.DAImag, "DBm": g.DBm, "DCm": g.DCm, "DBImag": g.DBImag, "DCImag": g.DCImag,
		"DZ": g.DZ, "DH0": g.DH0}
}

// TestComplexScanImplsMatchReference runs every complex implementation's
// forward against the complex128 reference, and its backward against the
// fused Go backward (itself checked against finite differences of the
// reference above), on complexFastCases, with 1 and 3 threads. The
// tolerance is tolScan (1e−4 of the largest magnitude), as for the real
// kernels: the SIMD Ā differs from the Go code's float64 one by a few
// float32 ulps (TestComplexScanCisULP), and the sums run in other orders.
func TestComplexScanImplsMatchReference(t *testing.T) {
	for _, im := range complexImplsUnderTest(t) {
		t.Run(im.name, func(t *testing.T) {
			for _, cc := range complexFastCases {
				t.Run(fmt.Sprintf("%v/imagB=%v,imagC=%v,lti=%v", cc.c, cc.imagB, cc.imagC, cc.lti), func(t *testing.T) {
					forThreads(t, func(t *testing.T) {
						c := cc.c
						B, L, D, N := c.B, c.L, c.D, c.N
						s := cc.build(1)
						want, wantHT := make([]float32, B*L*D), make([]float32, B*D*2*N)
						s.Y, s.HT = want, wantHT
						s.complexForwardRef()
						y, cy := guarded(t, "Y", B*L*D)
						ht, cht := guarded(t, "HT", B*D*2*N)
						saved, csv := guarded(t, "Saved", SavedLen(B, L, D, 2*N))
						s.Y, s.HT, s.Saved = y, ht, saved
						s.complexForwardWith(im)
						cy()
						cht()
						csv()
						checkClose(t, "Y", y, want, tolScan)
						checkClose(t, "HT", ht, wantHT, tolScan)

						r := rand.New(rand.NewPCG(3, 3))
						dy := randSlice(r, B*L*D, -1, 1)
						var dht []float32
						if c.dht {
							dht = randSlice(r, B*D*2*N, -1, 1)
						}
						got, cg := complexGrads(t, s, dy, dht)
						s.complexBackwardWith(im, got)
						cg()
						// The Go backward from the Go forward's saved states.
						s2 := cc.build(1)
						s2.Y, s2.HT, s2.Saved = make([]float32, B*L*D), make([]float32, B*D*2*N), make([]float32, SavedLen(B, L, D, 2*N))
						s2.complexForwardWith(complexGoImpl)
						ref, _ := complexGrads(t, s2, dy, dht)
						s2.complexBackwardWith(complexGoImpl, ref)
						gf, rf := complexGradFields(got), complexGradFields(ref)
						for name, w := range rf {
							if w != nil {
								checkClose(t, name, gf[name], w, tolScan)
							}
						}
					})
				})
			}
		})
	}
}

// TestComplexScanDeterministic checks that the fast path gives
// bit-identical outputs and gradients run after run (3 threads).
func TestComplexScanDeterministic(t *testing.T) {
	old := Threads()
	defer SetThreads(old)
	SetThreads(3)
	for _, im := range complexImplsUnderTest(t) {
		cc := complexFastCases[0]
		run := func() []float32 {
			c := cc.c
			B, L, D, N := c.B, c.L, c.D, c.N
			s := cc.build(2)
			s.Y, s.HT, s.Saved = make([]float32, B*L*D), make([]float32, B*D*2*N), make([]float32, SavedLen(B, L, D, 2*N))
			s.complexForwardWith(im)
			r := rand.New(rand.NewPCG(3, 3))
			g, _ := complexGrads(t, s, randSlice(r, B*L*D, -1, 1), randSlice(r, B*D*2*N, -1, 1))
			s.complexBackwardWith(im, g)
			out := append(append([]float32(nil), s.Y...), s.HT...)
			for _, name := range []string{"DU", "DDelta", "DDeltaBias", "DDskip", "DA", "DAImag", "DBm", "DCm", "DBImag", "DCImag", "DZ", "DH0"} {
				out = append(out, complexGradFields(g)[name]...)
			}
			return out
		}
		a, b := run(), run()
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				t.Fatalf("%s: element %d differs between runs: %v, %v", im.name, i, a[i], b[i])
			}
		}
	}
}

// TestComplexScanFastFiniteDifferences checks the SIMD backward of a scan
// with a full vector group directly against central differences of the
// complex128 reference (D = 17: one AVX-512 group, one channel in Go;
// B·L = 128, enough for the LTI kernels).
func TestComplexScanFastFiniteDifferences(t *testing.T) {
	for _, im := range complexImplsUnderTest(t) {
		if im.width == 1 {
			continue
		}
		for _, lti := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/lti=%v", im.name, lti), func(t *testing.T) {
				cc := complexFastCases[0]
				cc.c.L, cc.c.D, cc.c.N, cc.c.bPer, cc.lti = 64, 17, 2, lti, lti
				c := cc.c
				s := cc.build(4)
				B, L, D, N := c.B, c.L, c.D, c.N
				r := rand.New(rand.NewPCG(5, 5))
				R := randSlice(r, B*L*D, -1, 1)
				S := randSlice(r, B*D*2*N, -1, 1)
				s.Y, s.HT = make([]float32, B*L*D), make([]float32, B*D*2*N)
				s.Saved = make([]float32, SavedLen(B, L, D, 2*N))
				s.complexForwardWith(im)
				g, _ := complexGrads(t, s, R, S)
				s.complexBackwardWith(im, g)
				loss := func() float64 {
					s.complexForwardRef()
					return probeLoss(s, R, S)
				}
				fields := complexGradFields(g)
				inputs := map[string][]float32{"DU": s.U, "DDeltaBias": s.DeltaBias, "DDskip": s.Dskip,
					"DA": s.A, "DAImag": s.AImag, "DBm": s.Bm, "DCm": s.Cm, "DBImag": s.BImag, "DCImag": s.CImag,
					"DZ": s.Z, "DH0": s.H0, "DDelta": s.Delta}
				const eps = 1e-2
				pick := rand.New(rand.NewPCG(6, 6))
				for name, x := range inputs {
					if x == nil {
						continue
					}
					// Every element of the small inputs, 64 random ones
					// of the (B, L, D) ones.
					idx := make([]int, len(x))
					for i := range idx {
						idx[i] = i
					}
					if len(x) > 256 {
						pick.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
						idx = idx[:64]
					}
					num, got := make([]float32, len(idx)), make([]float32, len(idx))
					for k, i := range idx {
						x0 := x[i]
						x[i] = x0 + eps
						lp := loss()
						x[i] = x0 - eps
						lm := loss()
						x[i] = x0
						num[k], got[k] = float32((lp-lm)/(2*eps)), fields[name][i]
					}
					if e, at := scaleErr(got, num, 1e-2); e > 5e-3 {
						t.Errorf("d loss/d %s: scale error %.3g vs finite differences (index %d: %v vs %v)", name, e, idx[at], got[at], num[at])
					}
				}
			})
		}
	}
}

// TestComplexScanCisULP measures the error of the kernels' Ā =
// 2^(Δ·A′)·(cos(Δ·Ai), sin(Δ·Ai)) (A′ = Ar·log2 e) against float64 math of
// the same float32 products Δ·A′ and Δ·Ai, so that only the vector
// functions' error is counted: the sincos alone (A′ = 0) in ulps of the
// exact result over |θ| ≤ 2^14 (every 397th float32, and every float32 of
// [π/4 − 2^−10, π/4 + 2^−10] where the quadrants meet), and whole Ā
// with the decays and phases of S4D-Lin scans, in ulps of |Ā|. Measured:
// sincos 1.45 ulp on these samples (1.52 over every float32 of [0, 2^14],
// checked once), Ā 2.65 ulp of |Ā|; the test fails above 2 and 4.
func TestComplexScanCisULP(t *testing.T) {
	for _, im := range complexImplsUnderTest(t) {
		if im.cis == nil {
			continue
		}
		t.Run(im.name, func(t *testing.T) {
			var xs []float32
			lim := math.Float32bits(1 << 14)
			for b := uint32(0); b < lim; b += 397 {
				xs = append(xs, math.Float32frombits(b), -math.Float32frombits(b))
			}
			for x := float32(math.Pi/4 - 1.0/1024); x < math.Pi/4+1.0/1024; x = math.Nextafter32(x, 1) {
				xs = append(xs, x)
			}
			for len(xs)%im.width != 0 {
				xs = append(xs, 0)
			}
			n := len(xs)
			re, imv, one, zero := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
			for i := range one {
				one[i] = 1
			}
			im.cis(re, imv, one, zero, xs)
			var sinULP, cosULP, absErr float64
			var sinAt, cosAt float32
			for i, x := range xs {
				s, c := math.Sincos(float64(x))
				if e := math.Abs(float64(imv[i])-s) / ulp32(s); e > sinULP {
					sinULP, sinAt = e, x
				}
				if e := math.Abs(float64(re[i])-c) / ulp32(c); e > cosULP {
					cosULP, cosAt = e, x
				}
				absErr = max(absErr, math.Abs(float64(imv[i])-s), math.Abs(float64(re[i])-c))
			}
			t.Logf("sincos over |θ| ≤ 2^14: sin %.2f ulp (at %v), cos %.2f ulp (at %v), absolute %.3g", sinULP, sinAt, cosULP, cosAt, absErr)
			if sinULP > 2 || cosULP > 2 {
				t.Errorf("sincos error %.2f, %.2f ulp > 2", sinULP, cosULP)
			}

			// Whole Ā: Δ in [1e−4, 10], Ar in [−8, −0.01], Ai in [−200, 200].
			r := rand.New(rand.NewPCG(1, 2))
			n = 1 << 16
			dt, ar, ai := make([]float32, n), make([]float32, n), make([]float32, n)
			for i := range dt {
				dt[i] = float32(math.Exp(r.Float64()*math.Log(1e5))) * 1e-4
				ar[i] = float32(-math.Exp(r.Float64()*math.Log(800))*0.01) * float32(math.Log2E)
				ai[i] = float32(r.Float64()*400 - 200)
			}
			re, imv = make([]float32, n), make([]float32, n)
			im.cis(re, imv, dt, ar, ai)
			var worst float64
			for i := range dt {
				e := math.Exp2(float64(dt[i] * ar[i]))
				if e < 1e-30 {
					continue
				}
				s, c := math.Sincos(float64(dt[i] * ai[i]))
				d := math.Hypot(float64(re[i])-e*c, float64(imv[i])-e*s) / ulp32(e)
				worst = max(worst, d)
			}
			t.Logf("Ā over Δ ∈ [1e−4, 10], Ar ∈ [−8, −0.01], |Ai| ≤ 200: %.2f ulp of |Ā|", worst)
			if worst > 4 {
				t.Errorf("Ā error %.2f ulp of |Ā| > 4", worst)
			}
		})
	}
}

// TestComplexScanNaNPropagates puts a NaN into U (one element) and into a
// selective B (one step and n: every channel) and checks that every
// implementation has NaN exactly where the fused Go code has it, forward
// and backward, and agrees elsewhere; with resets, which stop the NaN.
func TestComplexScanNaNPropagates(t *testing.T) {
	nan := float32(math.NaN())
	for _, cc := range []complexFastCase{
		{c: scanCase{B: 2, L: 140, D: 37, N: 5, gate: true, reset: true, bias: true, skip: true, h0: true, dht: true}, imagB: true, imagC: true},
		{c: scanCase{B: 2, L: 140, D: 37, N: 5, gate: true, reset: true, bias: true, skip: true, h0: true, dht: true, bPer: true, cPer: true}, imagB: true, imagC: true, lti: true},
	} {
		c := cc.c
		B, L, D, N := c.B, c.L, c.D, c.N
		build := func() *Scan {
			s := cc.build(11)
			s.U[(1*L+10)*D+20] = nan // b 1, t 10, d 20
			if !c.bPer {
				s.Bm[(0*L+40)*N+2] = nan // b 0, t 40, n 2: every channel
			}
			s.Y, s.HT = make([]float32, B*L*D), make([]float32, B*D*2*N)
			s.Saved = make([]float32, SavedLen(B, L, D, 2*N))
			return s
		}
		r := rand.New(rand.NewPCG(1, 2))
		dy, dht := randSlice(r, B*L*D, -1, 1), randSlice(r, B*D*2*N, -1, 1)
		ref := build()
		ref.complexForwardWith(complexGoImpl)
		want, _ := complexGrads(t, ref, dy, dht)
		ref.complexBackwardWith(complexGoImpl, want)
		for _, im := range complexImplsUnderTest(t) {
			t.Run(fmt.Sprintf("%s/lti=%v", im.name, cc.lti), func(t *testing.T) {
				forThreads(t, func(t *testing.T) {
					s := build()
					s.complexForwardWith(im)
					checkNaNsClose(t, "Y", s.Y, ref.Y)
					checkNaNsClose(t, "HT", s.HT, ref.HT)
					got, _ := complexGrads(t, s, dy, dht)
					s.complexBackwardWith(im, got)
					gf, wf := complexGradFields(got), complexGradFields(want)
					for name, w := range wf {
						if w != nil {
							checkNaNsClose(t, name, gf[name], w)
						}
					}
				})
			})
		}
	}
}
