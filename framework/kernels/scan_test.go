package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
)

// scanCase builds a random scan problem. Inputs are in the ranges the
// backbone produces: Delta around the inverse softplus of 0.001..0.1, A
// negative, B, C, U of order 1.
type scanCase struct {
	B, L, D, N            int
	gate, reset, h0, skip bool
	bias, dht             bool
	bPer, cPer            bool // B, C per channel (non-selective)
}

func (c scanCase) String() string {
	v := ""
	if c.bPer || c.cPer {
		v = fmt.Sprintf(",Bper=%v,Cper=%v", c.bPer, c.cPer)
	}
	return fmt.Sprintf("B%dL%dD%dN%d/gate=%v,reset=%v,h0=%v%s", c.B, c.L, c.D, c.N, c.gate, c.reset, c.h0, v)
}

// bcLen is the length of B or C: (D, N) per channel, else (B, L, N).
func (c scanCase) bcLen(per bool) int {
	if per {
		return c.D * c.N
	}
	return c.B * c.L * c.N
}

func (c scanCase) build(seed uint64) *Scan {
	r := rand.New(rand.NewPCG(seed, 7))
	B, L, D, N := c.B, c.L, c.D, c.N
	s := &Scan{B: B, L: L, D: D, N: N,
		U:     randSlice(r, B*L*D, -2, 2),
		Delta: randSlice(r, B*L*D, -6, 1),
		A:     randSlice(r, D*N, -4, -0.1),
		Bm:    randSlice(r, c.bcLen(c.bPer), -1, 1),
		Cm:    randSlice(r, c.bcLen(c.cPer), -1, 1),

		BPerChannel: c.bPer, CPerChannel: c.cPer,
	}
	if c.bias {
		s.DeltaBias = randSlice(r, D, -3, 0)
	}
	if c.skip {
		s.Dskip = randSlice(r, D, 0.5, 1.5)
	}
	if c.gate {
		s.Z = randSlice(r, B*L*D, -3, 3)
	}
	if c.h0 {
		s.H0 = randSlice(r, B*D*N, -1, 1)
	}
	if c.reset {
		s.Reset = make([]bool, B*L)
		for i := range s.Reset {
			s.Reset[i] = r.IntN(7) == 0
		}
	}
	return s
}

var scanCases = []scanCase{
	{B: 1, L: 1, D: 1, N: 1},
	{B: 1, L: 3, D: 3, N: 4, bias: true, skip: true},
	{B: 2, L: 17, D: 3, N: 16, gate: true, bias: true, skip: true, h0: true, dht: true},
	{B: 3, L: 65, D: 5, N: 17, gate: true, reset: true, bias: true, skip: true, h0: true, dht: true},
	{B: 1, L: 255, D: 17, N: 8, gate: true, reset: true, bias: true, skip: true},
	{B: 2, L: 129, D: 4, N: 3, h0: true, dht: true},
	{B: 1, L: 0, D: 2, N: 2, h0: true},
	// Non-selective B and C (the paper's ablation; S4D): per channel, each
	// flag alone and both, with D past a vector width (the SIMD kernels'
	// variants) and below it (the fused Go code only).
	{B: 2, L: 70, D: 5, N: 4, gate: true, reset: true, bias: true, skip: true, h0: true, dht: true, bPer: true, cPer: true},
	{B: 3, L: 17, D: 17, N: 3, gate: true, bias: true, skip: true, bPer: true},
	{B: 1, L: 65, D: 3, N: 16, reset: true, bias: true, h0: true, dht: true, cPer: true},
	{B: 2, L: 130, D: 37, N: 16, gate: true, reset: true, bias: true, skip: true, h0: true, dht: true, bPer: true, cPer: true},
	{B: 3, L: 70, D: 33, N: 17, gate: true, reset: true, bias: true, skip: true, h0: true, dht: true, bPer: true},
	{B: 2, L: 129, D: 24, N: 5, reset: true, bias: true, h0: true, dht: true, cPer: true},
	{B: 4, L: 65, D: 48, N: 16, gate: true, bias: true, skip: true, cPer: true},
}

// scanImplsUnderTest returns the implementations this machine can run,
// narrowed to those named in MAMBAKIT_KERNEL (comma-separated) when set.
func scanImplsUnderTest(t testing.TB) []*scanImpl {
	var out []*scanImpl
	for _, im := range scanImpls {
		if !im.available || !kernelListed(im.name) {
			continue
		}
		out = append(out, im)
	}
	if len(out) == 0 {
		t.Fatalf("MAMBAKIT_KERNEL=%q names no available scan implementation (have %v)", os.Getenv("MAMBAKIT_KERNEL"), ScanImpls())
	}
	return out
}

// forScanImpls runs f as a subtest for every implementation under test.
func forScanImpls(t *testing.T, f func(t *testing.T, im *scanImpl)) {
	for _, im := range scanImplsUnderTest(t) {
		t.Run(im.name, func(t *testing.T) { f(t, im) })
	}
}

// checkScanForward runs im's forward on c and compares Y and HT with the
// reference, with guards around every output and a check that no input
// changed.
func checkScanForward(t *testing.T, im *scanImpl, c scanCase, seed uint64) *Scan {
	s := c.build(seed)
	want := make([]float32, c.B*c.L*c.D)
	wantHT := make([]float32, c.B*c.D*c.N)
	s.Y, s.HT = want, wantHT
	s.ForwardRef()

	y, checkY := guarded(t, "Y", c.B*c.L*c.D)
	ht, checkHT := guarded(t, "HT", c.B*c.D*c.N)
	saved, checkSaved := guarded(t, "Saved", SavedLen(c.B, c.L, c.D, c.N))
	inputs := snapshot(s)
	s.Y, s.HT, s.Saved = y, ht, saved
	s.forwardWith(im)
	checkY()
	checkHT()
	checkSaved()
	inputs.check(t, s)
	checkClose(t, "Y", y, want, tolScan)
	checkClose(t, "HT", ht, wantHT, tolScan)
	return s
}

// checkScanBackward runs im's forward and backward on c and compares every
// gradient with the reference.
func checkScanBackward(t *testing.T, im *scanImpl, c scanCase, seed uint64) {
	s := c.build(seed)
	B, L, D, N := c.B, c.L, c.D, c.N
	s.Y = make([]float32, B*L*D)
	s.HT = make([]float32, B*D*N)
	s.Saved = make([]float32, SavedLen(B, L, D, N))
	s.forwardWith(im)
	r := rand.New(rand.NewPCG(seed, 3))
	dy := randSlice(r, B*L*D, -1, 1)
	var dht []float32
	if c.dht {
		dht = randSlice(r, B*D*N, -1, 1)
	}
	want := newGrads(s, dy, dht, nil)
	s.BackwardRef(want.g)
	got := newGrads(s, dy, dht, t)
	inputs := snapshot(s)
	saved := slices.Clone(s.Saved)
	s.backwardWith(im, got.g)
	got.checkGuards()
	inputs.check(t, s)
	if !slices.Equal(saved, s.Saved) {
		t.Error("Backward modified Saved")
	}
	for _, f := range gradFields(want.g) {
		checkClose(t, f.name, f.get(got.g), f.get(want.g), tolScan)
	}
}

func TestScanForwardMatchesReference(t *testing.T) {
	forScanImpls(t, func(t *testing.T, im *scanImpl) {
		for _, c := range scanCases {
			t.Run(c.String(), func(t *testing.T) {
				forThreads(t, func(t *testing.T) { checkScanForward(t, im, c, 1) })
			})
		}
	})
}

func TestScanBackwardMatchesReference(t *testing.T) {
	forScanImpls(t, func(t *testing.T, im *scanImpl) {
		for _, c := range scanCases {
			t.Run(c.String(), func(t *testing.T) {
				forThreads(t, func(t *testing.T) { checkScanBackward(t, im, c, 2) })
			})
		}
	})
}

// TestScanAwkwardSizes sweeps sizes around the vector widths (8, 16), the
// chunk length (64) and the lane count of N, with the optional inputs
// and per-channel B and C (all four combinations) switched on and off from
// case to case, on 1 and 3 threads alternately.
func TestScanAwkwardSizes(t *testing.T) {
	sizes := []int{0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 63, 64, 65, 130}
	Ds := []int{1, 3, 15, 16, 17, 33}
	Ns := []int{1, 4, 8, 16, 17}
	var cases []scanCase
	k := 0
	opts := func(c scanCase) scanCase {
		k++
		c.gate, c.reset, c.h0, c.skip, c.bias, c.dht = k&1 != 0, k&2 != 0, k&4 != 0, k&8 == 0, k&16 == 0, k&32 != 0
		// k/7 mod 4 runs through the four B, C variants against every
		// combination of the bits above (7 is odd).
		c.bPer, c.cPer = (k/7)&1 != 0, (k/7)&2 != 0
		return c
	}
	for _, L := range sizes {
		for _, D := range Ds {
			for _, N := range Ns {
				cases = append(cases, opts(scanCase{B: 2, L: L, D: D, N: N}))
			}
		}
	}
	for _, B := range sizes {
		cases = append(cases, opts(scanCase{B: B, L: 9, D: 17, N: 5}), opts(scanCase{B: B, L: 65, D: 33, N: 16}))
	}
	old := Threads()
	defer SetThreads(old)
	forScanImpls(t, func(t *testing.T, im *scanImpl) {
		if im.ref {
			t.Skip("the reference is the baseline")
		}
		for i, c := range cases {
			SetThreads(1 + 2*(i%2))
			t.Run(c.String(), func(t *testing.T) {
				checkScanForward(t, im, c, uint64(i))
				checkScanBackward(t, im, c, uint64(i))
			})
		}
	})
}

// TestScanBackwardFiniteDifferences checks the reference backward itself
// against central differences of loss = Σ Y·R + Σ HT·S.
func TestScanBackwardFiniteDifferences(t *testing.T) {
	for _, per := range []bool{false, true} {
		t.Run(fmt.Sprintf("perChannelBC=%v", per), func(t *testing.T) {
			scanFiniteDifferences(t, scanCase{B: 2, L: 9, D: 2, N: 3, gate: true, reset: true, bias: true, skip: true, h0: true, dht: true, bPer: per, cPer: per})
		})
	}
}

func scanFiniteDifferences(t *testing.T, c scanCase) {
	s := c.build(4)
	B, L, D, N := c.B, c.L, c.D, c.N
	s.Reset = make([]bool, B*L)
	s.Reset[5] = true
	r := rand.New(rand.NewPCG(5, 5))
	R := randSlice(r, B*L*D, -1, 1)
	S := randSlice(r, B*D*N, -1, 1)
	s.Y = make([]float32, B*L*D)
	s.HT = make([]float32, B*D*N)
	s.Saved = make([]float32, SavedLen(B, L, D, N))
	loss := func() float64 {
		s.ForwardRef()
		return probeLoss(s, R, S)
	}
	s.Forward()
	g := newGrads(s, R, S, nil)
	s.Backward(g.g)
	inputs := []struct {
		name string
		x    []float32
		grad []float32
	}{
		{"U", s.U, g.g.DU}, {"Delta", s.Delta, g.g.DDelta}, {"DeltaBias", s.DeltaBias, g.g.DDeltaBias},
		{"A", s.A, g.g.DA}, {"Bm", s.Bm, g.g.DBm}, {"Cm", s.Cm, g.g.DCm}, {"Dskip", s.Dskip, g.g.DDskip},
		{"Z", s.Z, g.g.DZ}, {"H0", s.H0, g.g.DH0},
	}
	const eps = 1e-2
	for _, in := range inputs {
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
		if e, at := scaleErr(in.grad, num, 1e-3); e > 2e-3 {
			t.Errorf("d loss/d %s: scale error %.3g vs finite differences (index %d: %v vs %v)", in.name, e, at, in.grad[at], num[at])
		}
	}
}

func TestScanDeterministic(t *testing.T) {
	SetThreads(3)
	defer SetThreads(0)
	forScanImpls(t, func(t *testing.T, im *scanImpl) {
		for v := range 4 {
			c := scanCases[3]
			c.B, c.D = 2, 37
			c.bPer, c.cPer = v&1 != 0, v&2 != 0
			t.Run(c.String(), func(t *testing.T) {
				run := func() []float32 {
					s := c.build(9)
					B, L, D, N := c.B, c.L, c.D, c.N
					s.Y = make([]float32, B*L*D)
					s.Saved = make([]float32, SavedLen(B, L, D, N))
					s.forwardWith(im)
					g := newGrads(s, s.Y, nil, nil)
					s.backwardWith(im, g.g)
					return slices.Concat(s.Y, g.g.DBm, g.g.DCm, g.g.DA, g.g.DU)
				}
				a, b := run(), run()
				if !slices.Equal(a, b) {
					t.Fatal("two identical scans gave different bits")
				}
			})
		}
	})
}

// inputSnapshot detects writes to read-only inputs.
type inputSnapshot struct{ bufs [][]float32 }

func snapshot(s *Scan) inputSnapshot {
	var in inputSnapshot
	for _, x := range [][]float32{s.U, s.Delta, s.DeltaBias, s.A, s.Bm, s.Cm, s.Dskip, s.Z, s.H0} {
		in.bufs = append(in.bufs, slices.Clone(x))
	}
	return in
}

func (in inputSnapshot) check(t *testing.T, s *Scan) {
	t.Helper()
	for i, x := range [][]float32{s.U, s.Delta, s.DeltaBias, s.A, s.Bm, s.Cm, s.Dskip, s.Z, s.H0} {
		if !slices.Equal(x, in.bufs[i]) {
			t.Errorf("input %d was modified", i)
		}
	}
}

type gradSet struct {
	g      *ScanGrads
	checks []func()
}

func (gs *gradSet) checkGuards() {
	for _, c := range gs.checks {
		c()
	}
}

// newGrads allocates every gradient the scan can produce (guarded when t is
// non-nil).
func newGrads(s *Scan, dy, dht []float32, t *testing.T) *gradSet {
	B, L, D, N := s.B, s.L, s.D, s.N
	gs := &gradSet{g: &ScanGrads{DY: dy, DHT: dht}}
	alloc := func(name string, n int) []float32 {
		if t == nil {
			return make([]float32, n)
		}
		x, c := guarded(t, name, n)
		gs.checks = append(gs.checks, c)
		return x
	}
	g := gs.g
	g.DU = alloc("DU", B*L*D)
	g.DDelta = alloc("DDelta", B*L*D)
	g.DA = alloc("DA", D*N)
	g.DBm = alloc("DBm", s.bLen(s.BPerChannel))
	g.DCm = alloc("DCm", s.bLen(s.CPerChannel))
	g.DH0 = alloc("DH0", B*D*N)
	if s.DeltaBias != nil {
		g.DDeltaBias = alloc("DDeltaBias", D)
	}
	if s.Dskip != nil {
		g.DDskip = alloc("DDskip", D)
	}
	if s.Z != nil {
		g.DZ = alloc("DZ", B*L*D)
	}
	return gs
}

type gradField struct {
	name string
	get  func(*ScanGrads) []float32
}

func gradFields(g *ScanGrads) []gradField {
	all := []gradField{
		{"DU", func(g *ScanGrads) []float32 { return g.DU }},
		{"DDelta", func(g *ScanGrads) []float32 { return g.DDelta }},
		{"DA", func(g *ScanGrads) []float32 { return g.DA }},
		{"DBm", func(g *ScanGrads) []float32 { return g.DBm }},
		{"DCm", func(g *ScanGrads) []float32 { return g.DCm }},
		{"DH0", func(g *ScanGrads) []float32 { return g.DH0 }},
		{"DDeltaBias", func(g *ScanGrads) []float32 { return g.DDeltaBias }},
		{"DDskip", func(g *ScanGrads) []float32 { return g.DDskip }},
		{"DZ", func(g *ScanGrads) []float32 { return g.DZ }},
	}
	var out []gradField
	for _, f := range all {
		if f.get(g) != nil {
			out = append(out, f)
		}
	}
	return out
}

// TestScanNaNPropagates puts NaN into one u and into one row of B (or,
// with B per channel, into one channel's B) and checks that every
// implementation gives NaN exactly where the reference does (forward and
// backward; resets stop it), and matches elsewhere.
func TestScanNaNPropagates(t *testing.T) {
	for _, bPer := range []bool{false, true} {
		c := scanCase{B: 2, L: 70, D: 37, N: 5, gate: true, reset: true, bias: true, skip: true, h0: true, dht: true, bPer: bPer, cPer: bPer}
		t.Run(c.String(), func(t *testing.T) { scanNaNPropagates(t, c) })
	}
}

func scanNaNPropagates(t *testing.T, c scanCase) {
	nan := float32(math.NaN())
	build := func() *Scan {
		s := c.build(11)
		s.U[(1*c.L+10)*c.D+20] = nan // b 1, t 10, d 20
		if c.bPer {
			s.Bm[30*c.N+2] = nan // d 30, n 2: every b and t
		} else {
			s.Bm[(0*c.L+40)*c.N+2] = nan // b 0, t 40, n 2: every channel
		}
		s.Y = make([]float32, c.B*c.L*c.D)
		s.HT = make([]float32, c.B*c.D*c.N)
		s.Saved = make([]float32, SavedLen(c.B, c.L, c.D, c.N))
		return s
	}
	ref := build()
	ref.ForwardRef()
	dy := randSlice(rand.New(rand.NewPCG(1, 2)), c.B*c.L*c.D, -1, 1)
	dht := randSlice(rand.New(rand.NewPCG(1, 3)), c.B*c.D*c.N, -1, 1)
	want := newGrads(ref, dy, dht, nil)
	ref.BackwardRef(want.g)
	forScanImpls(t, func(t *testing.T, im *scanImpl) {
		if im.ref {
			t.Skip("the reference is the baseline")
		}
		forThreads(t, func(t *testing.T) {
			s := build()
			s.forwardWith(im)
			checkNaNsClose(t, "Y", s.Y, ref.Y)
			checkNaNsClose(t, "HT", s.HT, ref.HT)
			got := newGrads(s, dy, dht, nil)
			s.backwardWith(im, got.g)
			for _, f := range gradFields(want.g) {
				checkNaNsClose(t, f.name, f.get(got.g), f.get(want.g))
			}
		})
	})
}
