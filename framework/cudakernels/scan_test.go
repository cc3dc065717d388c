package cudakernels

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/mambakit/mambakit/framework/cuda"
	"github.com/mambakit/mambakit/framework/kernels"
)

type scanCase struct {
	B, L, D, N       int
	bias, skip, gate bool
	reset, h0, ht    bool
	bpc, cpc         bool
	complex, bimag   bool
}

func (c scanCase) String() string {
	s := fmt.Sprintf("B%d L%d D%d N%d", c.B, c.L, c.D, c.N)
	for _, f := range []struct {
		on   bool
		name string
	}{{c.gate, "z"}, {c.reset, "reset"}, {c.h0, "h0"}, {c.bpc, "Bpc"}, {c.cpc, "Cpc"}, {c.complex, "cplx"}} {
		if f.on {
			s += " " + f.name
		}
	}
	return s
}

var scanCases = []scanCase{
	{B: 2, L: 300, D: 70, N: 16, bias: true, skip: true, gate: true, reset: true, h0: true, ht: true},
	{B: 1, L: 1, D: 3, N: 5, bias: true, skip: true, gate: true, ht: true},
	{B: 3, L: 64, D: 32, N: 16},
	{B: 2, L: 1000, D: 96, N: 16, bias: true, skip: true, gate: true, reset: true, h0: true, ht: true},
	{B: 2, L: 129, D: 33, N: 7, bias: true, skip: true, gate: true, reset: true, h0: true, ht: true},
	{B: 2, L: 200, D: 40, N: 32, bias: true, skip: true, gate: true, reset: true, h0: true, ht: true},
	{B: 2, L: 150, D: 50, N: 16, bias: true, skip: true, gate: true, reset: true, h0: true, ht: true, bpc: true},
	{B: 2, L: 150, D: 50, N: 16, bias: true, skip: true, gate: true, h0: true, ht: true, cpc: true},
	{B: 2, L: 150, D: 50, N: 16, bias: true, skip: true, gate: true, ht: true, bpc: true, cpc: true},
	{B: 2, L: 100, D: 40, N: 8, bias: true, skip: true, gate: true, reset: true, h0: true, ht: true, complex: true, bimag: true},
	{B: 1, L: 70, D: 9, N: 4, skip: true, ht: true, complex: true},
	{B: 2, L: 90, D: 35, N: 16, bias: true, skip: true, gate: true, reset: true, h0: true, ht: true, complex: true, bimag: true, bpc: true, cpc: true},
	{B: 1, L: 0, D: 5, N: 4, h0: true, ht: true},
	{B: 1, L: 100, D: 64, N: 64, bias: true, skip: true, gate: true, reset: true, h0: true, ht: true},
}

// cpuScan builds a kernels.Scan with random inputs for c.
func cpuScan(r *rand.Rand, c scanCase) *kernels.Scan {
	B, L, D, N := c.B, c.L, c.D, c.N
	bld := B * L * D
	sn := N
	if c.complex {
		sn = 2 * N
	}
	s := &kernels.Scan{B: B, L: L, D: D, N: N,
		U: rnd(r, bld, -1, 1), Delta: rnd(r, bld, -4, 1), A: rnd(r, D*N, -4, -0.1),
		Y: make([]float32, bld), Saved: make([]float32, kernels.SavedLen(B, L, D, sn)),
		BPerChannel: c.bpc, CPerChannel: c.cpc}
	bl := B * L * N
	if c.bpc {
		bl = D * N
	}
	s.Bm = rnd(r, bl, -1, 1)
	cl := B * L * N
	if c.cpc {
		cl = D * N
	}
	s.Cm = rnd(r, cl, -1, 1)
	if c.bias {
		s.DeltaBias = rnd(r, D, -1, 0.5)
	}
	if c.skip {
		s.Dskip = rnd(r, D, 0.5, 1.5)
	}
	if c.gate {
		s.Z = rnd(r, bld, -3, 3)
	}
	if c.reset {
		s.Reset = make([]bool, B*L)
		for i := range s.Reset {
			s.Reset[i] = r.Float32() < 0.02 || i%L == 64
		}
	}
	if c.h0 {
		s.H0 = rnd(r, B*D*sn, -1, 1)
	}
	if c.ht {
		s.HT = make([]float32, B*D*sn)
	}
	if c.complex {
		s.AImag = rnd(r, D*N, -3, 3)
		if c.bimag {
			s.BImag = rnd(r, len(s.Bm), -1, 1)
			s.CImag = rnd(r, len(s.Cm), -1, 1)
		}
	}
	return s
}

// gpuScan uploads s's inputs and allocates poisoned outputs.
func gpuScan(db *devBufs, s *kernels.Scan) (*Scan, *cuda.Buffer, *cuda.Buffer) {
	g := &Scan{B: s.B, L: s.L, D: s.D, N: s.N,
		U: db.in(s.U), Delta: db.in(s.Delta), DeltaBias: db.in(s.DeltaBias), A: db.in(s.A),
		Bm: db.in(s.Bm), Cm: db.in(s.Cm), Dskip: db.in(s.Dskip), Z: db.in(s.Z), Reset: db.bools(s.Reset),
		H0: db.in(s.H0), BPerChannel: s.BPerChannel, CPerChannel: s.CPerChannel,
		AImag: db.in(s.AImag), BImag: db.in(s.BImag), CImag: db.in(s.CImag)}
	y := db.out(s.B * s.L * s.D)
	g.Y = y.Ptr()
	var ht *cuda.Buffer
	if s.HT != nil {
		ht = db.out(len(s.HT))
		g.HT = ht.Ptr()
	}
	g.Saved = db.out(ScanSavedLen(s.B, s.L, s.D, s.N, s.AImag != nil)).Ptr()
	return g, y, ht
}

// scanPlans runs f under each plan of the forward scan (Device.scanSeq):
// every case through the one-launch kernel and through the chunked ones
// (and the backward from the states each saves).
func scanPlans(t *testing.T, f func(t *testing.T)) {
	for _, plan := range []string{"chunks", "seq"} {
		t.Run(plan, func(t *testing.T) {
			old := scanPlan
			scanPlan = plan
			t.Cleanup(func() { scanPlan = old })
			f(t)
		})
	}
}

func TestScanForward(t *testing.T) { scanPlans(t, scanForwardCases) }

func TestScanBackward(t *testing.T) { scanPlans(t, scanBackwardCases) }

func scanForwardCases(t *testing.T) {
	d := openOrSkip(t)
	for i, c := range scanCases {
		r := rand.New(rand.NewPCG(uint64(i), 7))
		s := cpuScan(r, c)
		db := newDevBufs(t, d)
		g, y, ht := gpuScan(db, s)
		if i%2 == 1 {
			g.Saved = 0 // the forward pass alone: Saved goes to scratch
		}
		y16 := db.out((len(s.Y) + 1) / 2)
		g.Y16 = y16.Ptr()
		if err := d.ScanForward(g); err != nil {
			t.Errorf("%v: %v", c, err)
			continue
		}
		gy := db.get(y, len(s.Y))
		report(t, "scan fwd Y16 (bits differing)", c.String(), float64(bf16Mismatches(db.bf16Get(y16, len(s.Y)), gy)), 0)
		var ght []float32
		if ht != nil {
			ght = db.get(ht, len(s.HT))
		}
		s.ForwardRef()
		name := "scan fwd"
		if c.complex {
			name = "scan fwd complex"
		}
		report(t, name+" Y", c.String(), relErr(gy, s.Y), 1e-4)
		if ht != nil {
			report(t, name+" HT", c.String(), relErr(ght, s.HT), 1e-4)
		}
	}
}

func scanBackwardCases(t *testing.T) {
	d := openOrSkip(t)
	for i, c := range scanCases {
		r := rand.New(rand.NewPCG(uint64(i), 11))
		s := cpuScan(r, c)
		B, L, D, N := c.B, c.L, c.D, c.N
		sn := N
		if c.complex {
			sn = 2 * N
		}
		bld := B * L * D
		cg := &kernels.ScanGrads{DY: rnd(r, bld, -1, 1), DU: make([]float32, bld), DDelta: make([]float32, bld),
			DDeltaBias: make([]float32, D), DA: make([]float32, D*N), DBm: make([]float32, len(s.Bm)), DCm: make([]float32, len(s.Cm)),
			DDskip: make([]float32, D), DH0: make([]float32, B*D*sn)}
		if c.gate {
			cg.DZ = make([]float32, bld)
		}
		if c.ht {
			cg.DHT = rnd(r, B*D*sn, -1, 1)
		}
		if c.complex {
			cg.DAImag, cg.DBImag, cg.DCImag = make([]float32, D*N), make([]float32, len(s.Bm)), make([]float32, len(s.Cm))
		}
		db := newDevBufs(t, d)
		g, _, _ := gpuScan(db, s)
		if err := d.ScanForward(g); err != nil {
			t.Errorf("%v: %v", c, err)
			continue
		}
		gg := &ScanGrads{DY: db.in(cg.DY), DHT: db.in(cg.DHT)}
		outs := map[string]*cuda.Buffer{}
		want := map[string][]float32{"DU": cg.DU, "DDelta": cg.DDelta, "DDeltaBias": cg.DDeltaBias, "DA": cg.DA,
			"DBm": cg.DBm, "DCm": cg.DCm, "DDskip": cg.DDskip, "DH0": cg.DH0, "DZ": cg.DZ,
			"DAImag": cg.DAImag, "DBImag": cg.DBImag, "DCImag": cg.DCImag}
		ptrs := map[string]*cuda.DevPtr{"DU": &gg.DU, "DDelta": &gg.DDelta, "DDeltaBias": &gg.DDeltaBias, "DA": &gg.DA,
			"DBm": &gg.DBm, "DCm": &gg.DCm, "DDskip": &gg.DDskip, "DH0": &gg.DH0, "DZ": &gg.DZ,
			"DAImag": &gg.DAImag, "DBImag": &gg.DBImag, "DCImag": &gg.DCImag}
		for k, w := range want {
			if w == nil {
				continue
			}
			outs[k] = db.out(len(w))
			*ptrs[k] = outs[k].Ptr()
		}
		dd16 := db.out((bld + 1) / 2)
		gg.DDelta16 = dd16.Ptr()
		var dz16 *cuda.Buffer
		if c.gate {
			dz16 = db.out((bld + 1) / 2)
			gg.DZ16 = dz16.Ptr()
		}
		if err := d.ScanBackward(g, gg); err != nil {
			t.Errorf("%v: %v", c, err)
			continue
		}
		got := map[string][]float32{}
		for k, b := range outs {
			got[k] = db.get(b, len(want[k]))
		}
		report(t, "scan bwd DDelta16 (bits differing)", c.String(), float64(bf16Mismatches(db.bf16Get(dd16, bld), got["DDelta"])), 0)
		if dz16 != nil {
			report(t, "scan bwd DZ16 (bits differing)", c.String(), float64(bf16Mismatches(db.bf16Get(dz16, bld), got["DZ"])), 0)
		}
		// Determinism: a second run gives the same bits.
		if err := d.ScanBackward(g, gg); err != nil {
			t.Fatal(err)
		}
		same := true
		for k, b := range outs {
			again := db.get(b, len(want[k]))
			for j := range again {
				if again[j] != got[k][j] {
					same = false
				}
			}
		}
		if !same {
			t.Errorf("%v: two backward runs differ", c)
		}
		if c.complex {
			// The complex reference backward recomputes chunks from the
			// CPU forward's saved states.
			s.Forward()
		}
		s.BackwardRef(cg)
		name := "scan bwd "
		if c.complex {
			name = "scan bwd complex "
		}
		for _, k := range []string{"DU", "DDelta", "DZ", "DBm", "DCm", "DA", "DDskip", "DDeltaBias", "DH0", "DAImag", "DBImag", "DCImag"} {
			if want[k] == nil {
				continue
			}
			report(t, name+k, c.String(), relErr(got[k], want[k]), 1e-4)
		}
	}
}

func TestScanArgs(t *testing.T) {
	var d Device // no GPU needed: argument checks come first
	if err := d.ScanForward(&Scan{B: 1, L: 1, D: 1, N: 0}); err == nil {
		t.Error("N 0 accepted")
	}
	if err := d.ScanForward(&Scan{B: 1, L: 1, D: 1, N: 100, U: 1, Delta: 1, A: 1, Bm: 1, Cm: 1, Y: 1}); err == nil {
		t.Error("N 100 accepted")
	}
	if err := d.ScanForward(&Scan{B: 1, L: 1, D: 1, N: 4}); err == nil {
		t.Error("missing U accepted")
	}
	if err := d.ScanForward(&Scan{B: 1, L: 1, D: 1, N: 4, U: 1, Delta: 1, A: 1, Bm: 1, Cm: 1, Y: 1, BImag: 1}); err == nil {
		t.Error("BImag without AImag accepted")
	}
	if err := d.ScanForward(&Scan{B: 1, L: 1, D: 1, N: 4, U: 1, U16: 1, Delta: 1, A: 1, Bm: 1, Cm: 1, Y: 1}); err == nil {
		t.Error("both U and U16 accepted")
	}
	if err := d.ScanForward(&Scan{B: 1, L: 1, D: 1, N: 4, U16: 1, A: 1, Bm: 1, Cm: 1, Y: 1}); err == nil {
		t.Error("missing Delta and Delta16 accepted")
	}
	full := Scan{B: 1, L: 5, D: 1, N: 4, U: 1, Delta: 1, A: 1, Bm: 1, Cm: 1, Y: 1}
	if err := d.ScanBackward(&full, &ScanGrads{DY: 1}); err == nil {
		t.Error("backward without Saved accepted")
	}
	full.Saved = 1
	if err := d.ScanBackward(&full, &ScanGrads{}); err == nil {
		t.Error("backward without DY accepted")
	}
	if err := d.ScanBackward(&full, &ScanGrads{DY: 1, DZ: 1}); err == nil {
		t.Error("DZ without Z accepted")
	}
	if n := ScanSavedLen(2, 65, 3, 4, false); n != 2*2*3*4 {
		t.Errorf("ScanSavedLen = %d", n)
	}
	if n := ScanSavedLen(2, 65, 3, 4, true); n != 2*3*3*8 {
		t.Errorf("complex ScanSavedLen = %d", n)
	}
	// The backward's dynamic shared memory for N = 16 (SH_FLOATS in
	// kernels/scan_common.cuh): 5 tiles of 64×32, B and C of 64×16, warp partials
	// of one 8-step piece 4×8×4×8, reset bytes.
	if got, want := scanBwdShared(16, false), 4*(5*64*32+2*64*16+4*8*4*8+17); got != want {
		t.Errorf("scanBwdShared(16) = %d, want %d", got, want)
	}
	// Complex: chunks of 32, B, BImag, C, CImag, 16 values a lane.
	if got, want := scanBwdShared(16, true), 4*(5*32*32+4*32*16+4*8*4*16+9); got != want {
		t.Errorf("scanBwdShared(16, complex) = %d, want %d", got, want)
	}
}

func TestScanFile(t *testing.T) {
	if f := (&Scan{N: 4}).file(); f != "scan_real.cu" {
		t.Errorf("real scan module %q", f)
	}
	if f := (&Scan{N: 4, AImag: 1}).file(); f != "scan_complex.cu" {
		t.Errorf("complex scan module %q", f)
	}
	if d := (&Scan{N: 4, AImag: 1, BPerChannel: true}).defines(); strings.Join(d, " ") != "SCAN_N=4 B_PC=1 C_PC=0" && !strings.HasPrefix(strings.Join(d, " "), "SCAN_N=4 B_PC=1 C_PC=0 BWD_MINB=") {
		t.Errorf("defines %v", d)
	}
	// bfloat16 inputs: a module of their own.
	if d := strings.Join((&Scan{N: 4, U16: 1, Z16: 1}).defines(), " "); !strings.HasPrefix(d, "SCAN_N=4 B_PC=0 C_PC=0 U16=1 Z16=1") || strings.Contains(d, "DL16") {
		t.Errorf("defines with U16, Z16: %v", d)
	}
}
