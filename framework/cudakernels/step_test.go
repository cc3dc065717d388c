package cudakernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/cuda"
	"github.com/mambakit/mambakit/framework/kernels"
)

// The single-token kernels of step.cu against the CPU kernels: the scan
// step against kernels.Scan with L = 1 (ForwardRef, float64 sums), the
// fused norm + in_proj + convolution step against RMSNormForward, MatMul,
// Conv1d.ForwardRef and SiLU, the argmax epilogue against the host argmax;
// the kernels around cuBLAS's products of many rows (step_rows.go)
// against RMSNormForward and Conv1d.ForwardRef + SiLU. Each bfloat16 form
// a kernel writes for bf16 products (Y16, Out16, U16) is
// kernels.RoundBF16 of its float32 output, bit for bit.

func stepIO(B int, reset []bool, vlimit int) []int32 {
	io := make([]int32, StepIOLen(B))
	for b := 0; b < B; b++ {
		if reset != nil && reset[b] {
			io[B+b] = 1
		}
	}
	io[2*B] = int32(vlimit)
	return io
}

// stepVariants are the compiled and launch forms tested.
var stepVariants = []StepVariant{{}, {Prefetch: true}, {Prefetch: true, PDL: true}, {MaxRows: 1}, {MaxRows: 1, Prefetch: true, PDL: true},
	{MaxRows: 1, Prefetch: true, Early: true}, {MaxRows: 1, Prefetch: true, PDL: true, Early: true},
	{MaxRows: 1, Prefetch: true, PDL: true, Early: true, L2: true}}

// variantStream returns the stream a variant's kernels run on in the
// tests (PDL on a non-blocking stream), after the default stream's
// uploads and fills.
func variantStream(t *testing.T, d *Device, v StepVariant) *cuda.Stream {
	t.Helper()
	if err := d.Synchronize(); err != nil {
		t.Fatal(err)
	}
	if !v.PDL {
		return nil
	}
	if err := d.PDLAvailable(); err != nil {
		t.Skip(err)
	}
	s, err := d.NewStreamNonBlocking()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Destroy() })
	return s
}

func TestStepScan(t *testing.T) {
	d := openOrSkip(t)
	for _, v := range stepVariants {
		testStepScan(t, d, v)
	}
}

func testStepScan(t *testing.T, d *Device, v StepVariant) {
	for i, c := range []struct {
		B, D, N, R         int
		bpc, cpc, cx, skip bool
		packed             bool // Δ's input, B and C side by side in one (B, R+2N) buffer, as the Stepper has them
		noZ                bool // no gate
	}{
		{1, 33, 16, 3, false, false, false, true, false, false},
		{3, 50, 33, 5, true, false, false, true, false, false},
		{2, 40, 7, 0, false, true, false, false, false, false},
		{8, 64, 64, 4, false, false, false, true, false, false},
		{2, 20, 8, 4, false, false, true, true, false, false},
		{3, 17, 16, 0, true, true, true, true, false, false},
		// One row of each kind, for the one-row kernels.
		{1, 50, 33, 5, true, false, false, true, false, false},
		{1, 40, 7, 0, false, true, false, false, false, false},
		{1, 20, 8, 4, false, false, true, true, false, false},
		{1, 17, 16, 0, true, true, true, true, false, false},
		{1, 24, 64, 70, false, false, false, true, false, false},
		// Many rows (step_scan_rows): B not a multiple of its 8 rows a
		// block, D not a multiple of its 32 channels, N not a multiple of
		// 4 (H read and written by scalars), R past 32 and 64.
		{B: 13, D: 70, N: 16, R: 48, skip: true, packed: true},
		{B: 9, D: 33, N: 5, R: 3, skip: true, packed: true},
		{B: 20, D: 64, N: 33, R: 70, skip: true},
		{B: 17, D: 40, N: 64, bpc: true, cpc: true, skip: true},
		{B: 2, D: 31, N: 16, R: 33, bpc: true, skip: true},
		{B: 37, D: 100, N: 16, R: 7, cpc: true, noZ: true},
		{B: 70, D: 96, N: 16, R: 48, skip: true, packed: true},
		{B: 3, D: 50, N: 64, R: 160, skip: true, packed: true},
		{B: 256, D: 1536, N: 16, R: 48, skip: true, packed: true}, // the mamba-130m step of 256 rows
		// Many rows that step_scan keeps: complex A, and a block's
		// projection rows past 48 KB of shared memory.
		{B: 11, D: 24, N: 8, R: 4, cx: true, skip: true},
		{B: 4, D: 40, N: 16, R: 400, skip: true},
	} {
		if v.maxRows() == 1 && c.B > 1 {
			continue // the Stepper runs the one-row forms for one row only
		}
		r := rand.New(rand.NewPCG(uint64(i), 11))
		B, D, N, R := c.B, c.D, c.N, c.R
		cf := 1
		if c.cx {
			cf = 2
		}
		u, z := rnd(r, B*D, -1, 1), rnd(r, B*D, -3, 3)
		dtLow, dtW, dtB := rnd(r, B*max(R, 1), -1, 1), rnd(r, D*max(R, 1), -0.5, 0.5), rnd(r, D, -3, 0.5)
		alog, aimag := rnd(r, D*N, -1, 1.5), rnd(r, D*N, -3, 3)
		nb, ncn := B*N, B*N
		if c.bpc {
			nb = D * N
		}
		if c.cpc {
			ncn = D * N
		}
		bm, bi, cm, ci := rnd(r, nb, -1, 1), rnd(r, nb, -1, 1), rnd(r, ncn, -1, 1), rnd(r, ncn, -1, 1)
		dskip := rnd(r, D, 0.5, 1.5)
		h0 := rnd(r, B*D*N*cf, -1, 1)
		reset := make([]bool, B)
		for b := range B {
			reset[b] = B > 1 && (b == B-1 || b%5 == 2)
		}
		// The CPU reference: Δ before its bias from dt_proj in float64,
		// a = −exp(A_log), reset rows from a zero state.
		delta := make([]float32, B*D)
		for b := 0; b < B; b++ {
			for dd := 0; dd < D; dd++ {
				var s float64
				for k := 0; k < R; k++ {
					s += float64(dtLow[b*R+k]) * float64(dtW[dd*R+k])
				}
				delta[b*D+dd] = float32(s)
			}
		}
		a := make([]float32, D*N)
		for k, v := range alog {
			a[k] = -float32(math.Exp(float64(v)))
		}
		h0cpu := append([]float32(nil), h0...)
		for b := 0; b < B; b++ {
			if reset[b] {
				clear(h0cpu[b*D*N*cf : (b+1)*D*N*cf])
			}
		}
		ks := &kernels.Scan{B: B, L: 1, D: D, N: N, U: u, Delta: delta, DeltaBias: dtB, A: a, Bm: bm, Cm: cm,
			BPerChannel: c.bpc, CPerChannel: c.cpc, Z: z, H0: h0cpu, HT: make([]float32, len(h0)), Y: make([]float32, B*D)}
		if c.noZ {
			ks.Z = nil
		}
		if c.skip {
			ks.Dskip = dskip
		}
		if c.cx {
			ks.AImag, ks.BImag, ks.CImag = aimag, bi, ci
		}
		ks.ForwardRef()
		// bf16 precision: Δ's projection from dtLow and dtW rounded to
		// bfloat16 (DtBF16), the products exact, summed in float64 here.
		ks16 := *ks
		ks16.Delta, ks16.HT, ks16.Y = make([]float32, B*D), make([]float32, len(h0)), make([]float32, B*D)
		for b := 0; b < B; b++ {
			for dd := 0; dd < D; dd++ {
				var s float64
				for k := 0; k < R; k++ {
					s += float64(roundBF16(dtLow[b*R+k])) * float64(roundBF16(dtW[dd*R+k]))
				}
				ks16.Delta[b*D+dd] = float32(s)
			}
		}
		ks16.ForwardRef()

		db := newDevBufs(t, d)
		y := db.out(B * D)
		y16 := db.out((B*D + 1) / 2)
		h := db.out(len(h0))
		if err := h.CopyFromF32(h0); err != nil {
			t.Fatal(err)
		}
		gs := &StepScan{B: B, D: D, N: N, R: R, U: db.in(u), Z: db.in(z), DtBias: db.in(dtB), ALog: db.in(alog),
			Bm: db.in(bm), Cm: db.in(cm), H: h.Ptr(), Y: y.Ptr(), IO: db.ints(stepIO(B, reset, 0)), V: v}
		if R > 0 {
			gs.DtLow, gs.LDDt, gs.DtW = db.in(dtLow), R, db.in(dtW)
		}
		gs.L2 = [2]L2Range{{gs.ALog, 4 * len(alog)}, {gs.DtBias, 4 * len(dtB)}}
		if !c.bpc {
			gs.LDB = N
		}
		if !c.cpc {
			gs.LDC = N
		}
		if c.packed { // real A, B and C input-dependent
			S := R + 2*N
			x := make([]float32, B*S)
			for b := range B {
				copy(x[b*S:], dtLow[b*R:(b+1)*R])
				copy(x[b*S+R:], bm[b*N:(b+1)*N])
				copy(x[b*S+R+N:], cm[b*N:(b+1)*N])
			}
			p := db.in(x)
			gs.Bm, gs.Cm, gs.LDB, gs.LDC = p+cuda.DevPtr(4*R), p+cuda.DevPtr(4*(R+N)), S, S
			if R > 0 {
				gs.DtLow, gs.LDDt = p, S
			}
		}
		if c.noZ {
			gs.Z = 0
		}
		if c.skip {
			gs.Dskip = db.in(dskip)
		}
		if c.cx {
			gs.AImag, gs.BImag, gs.CImag = db.in(aimag), db.in(bi), db.in(ci)
		}
		// The kernel Run picks, and step_scan_rows wherever it can run
		// (Run picks it only for large grids).
		kernels := []string{gs.kernel(d.SMs)}
		if gs.rowsOK() && kernels[0] != "step_scan_rows" {
			kernels = append(kernels, "step_scan_rows")
		}
		for _, k := range kernels {
			name := fmt.Sprintf("%v %s B%d D%d N%d R%d bpc%v cpc%v complex%v", v, k, B, D, N, R, c.bpc, c.cpc, c.cx)
			var gotY, gotH []float32
			// Twice from the same state: the same bits run to run.
			for pass := range 2 {
				if err := h.CopyFromF32(h0); err != nil {
					t.Fatal(err)
				}
				run := gs.Run
				if k != kernels[0] {
					run = func(d *Device, s *cuda.Stream) error { return gs.launch(d, s, k) }
				}
				if err := run(d, variantStream(t, d, v)); err != nil {
					t.Fatal(err)
				}
				y2, h2 := db.get(y, B*D), db.get(h, len(h0))
				if pass == 1 {
					if !slices.Equal(f32bits(y2), f32bits(gotY)) || !slices.Equal(f32bits(h2), f32bits(gotH)) {
						t.Errorf("%s: a second run gave other bits", name)
					}
					break
				}
				gotY, gotH = y2, h2
				report(t, "step scan Y", name, relErr(gotY, ks.Y), 1e-5)
				report(t, "step scan H", name, relErr(gotH, ks.HT), 1e-5)
			}
			// bf16 precision: Δ's projection inputs rounded, and Y's
			// bfloat16 bits beside Y (not in the early kernel, whose bf16
			// out_proj rounds y itself: TestStepArgs).
			if err := h.CopyFromF32(h0); err != nil {
				t.Fatal(err)
			}
			with16 := k != "step_scan_e"
			gs.DtBF16 = true
			if with16 {
				gs.Y16 = y16.Ptr()
			}
			var err error
			if k == kernels[0] {
				err = gs.Run(d, variantStream(t, d, v))
			} else {
				err = gs.launch(d, variantStream(t, d, v), k)
			}
			gs.Y16, gs.DtBF16 = 0, false
			if err != nil {
				t.Fatal(err)
			}
			y3 := db.get(y, B*D)
			report(t, "step scan Y (bf16 Δ inputs)", name, relErr(y3, ks16.Y), 1e-5)
			report(t, "step scan HT (bf16 Δ inputs)", name, relErr(db.get(h, len(h0)), ks16.HT), 1e-5)
			if R > 0 && relErr(y3, ks.Y) < 1e-6 {
				t.Errorf("%s: Y with DtBF16 within 1e-6 of Y without: Δ's inputs were not rounded", name)
			}
			if with16 {
				report(t, "step scan Y16 (bits differing)", name, float64(bf16Mismatches(db.bf16Get(y16, B*D), y3)), 0)
			}
		}
		// step_scan_rows with a block taking one group of rows, then 2,
		// 3 and 5 in turn (fewer blocks than groups, the last block's
		// groups partly past B): the same bits.
		if gs.rowsOK() {
			var wantY, wantH []float32
			for _, it := range []int{1, 2, 3, 5} {
				if err := h.CopyFromF32(h0); err != nil {
					t.Fatal(err)
				}
				gs.rowIters = it
				err := gs.launch(d, variantStream(t, d, v), "step_scan_rows")
				gs.rowIters = 0
				if err != nil {
					t.Fatal(err)
				}
				y2, h2 := db.get(y, B*D), db.get(h, len(h0))
				if it == 1 {
					wantY, wantH = y2, h2
					continue
				}
				if !slices.Equal(f32bits(y2), f32bits(wantY)) || !slices.Equal(f32bits(h2), f32bits(wantH)) {
					t.Errorf("%v step_scan_rows B%d D%d N%d R%d: %d groups of rows a block gave other bits than one", v, B, D, N, R, it)
				}
			}
		}
	}
}

// roundBF16 is x rounded to the nearest bfloat16, as a float32.
func roundBF16(x float32) float32 { return kernels.FromBF16(kernels.RoundBF16(x)) }

// TestStepRows: step_rmsnorm_rows against kernels.RMSNormForward (rows
// read with a stride) and step_conv_rows against Conv1d.ForwardRef and
// SiLU (reset rows, K 1 to 4, with and without bias), each with and
// without its bfloat16 output: the float32 outputs the same bits either
// way, the bfloat16 one RoundBF16 of them.
func TestStepRows(t *testing.T) {
	d := openOrSkip(t)
	for _, v := range []StepVariant{{}, {Prefetch: true}} {
		for i, c := range []struct {
			B, D, Din, Kc int
			bias          bool
		}{{9, 40, 24, 4, true}, {24, 768, 1536, 4, true}, {3, 37, 33, 3, false}, {17, 64, 128, 1, true}, {265, 64, 128, 4, true}} {
			name := fmt.Sprintf("%v B%d D%d Din%d K%d", v, c.B, c.D, c.Din, c.Kc)
			r := rand.New(rand.NewPCG(uint64(i), 13))
			B, D, Din, Kc := c.B, c.D, c.Din, c.Kc
			db := newDevBufs(t, d)
			vs := variantStream(t, d, v)

			// The norm of rows at a stride of D+5 (what lies between
			// the rows must not be read).
			const eps = 1e-5
			ldx := D + 5
			xs, nw := rnd(r, B*ldx, -2, 2), rnd(r, D, 0.5, 1.5)
			x := make([]float32, B*D)
			for b := range B {
				copy(x[b*D:(b+1)*D], xs[b*ldx:])
				for k := D; k < ldx; k++ {
					xs[b*ldx+k] = 1e30
				}
			}
			want, rstd := make([]float32, B*D), make([]float32, B)
			kernels.RMSNormForward(want, rstd, x, nw, B, D, eps)
			px, pw := db.in(xs), db.in(nw)
			out, out16 := db.out(B*D), db.out((B*D+1)/2)
			if err := d.StepRMSNormRows(vs, v, px, ldx, pw, eps, B, D, out.Ptr(), 0); err != nil {
				t.Fatal(err)
			}
			plain := db.get(out, B*D)
			if err := d.StepRMSNormRows(vs, v, px, ldx, pw, eps, B, D, out.Ptr(), out16.Ptr()); err != nil {
				t.Fatal(err)
			}
			got := db.get(out, B*D)
			report(t, "step rmsnorm rows", name, relErr(got, want), 1e-5)
			if !slices.Equal(f32bits(got), f32bits(plain)) {
				t.Errorf("%s: rmsnorm rows: other float32 bits with the bfloat16 output", name)
			}
			report(t, "step rmsnorm rows out16 (bits differing)", name, float64(bf16Mismatches(db.bf16Get(out16, B*D), got)), 0)

			// The convolution step of in_proj's output (B, 2·Din).
			xz := rnd(r, B*2*Din, -2, 2)
			cw, cb := rnd(r, Din*Kc, -1, 1), rnd(r, Din, -0.5, 0.5)
			if !c.bias {
				cb = nil
			}
			st0 := rnd(r, B*Din*(Kc-1), -1, 1)
			reset := make([]bool, B)
			for b := range B {
				reset[b] = b%4 == 1
			}
			xin, zw := make([]float32, B*Din), make([]float32, B*Din)
			for b := range B {
				copy(xin[b*Din:(b+1)*Din], xz[b*2*Din:])
				copy(zw[b*Din:(b+1)*Din], xz[b*2*Din+Din:])
			}
			uw, stT := convStepRef(B, Din, Kc, xin, cw, cb, st0, reset)
			pxz, pcw, pcb, io := db.in(xz), db.in(cw), db.in(cb), db.ints(stepIO(B, reset, 0))
			st := db.out(max(len(st0), 1))
			u, z, u16 := db.out(B*Din), db.out(B*Din), db.out((B*Din+1)/2)
			var uPlain []float32
			for _, with16 := range []bool{false, true} {
				if err := st.CopyFromF32(st0); err != nil {
					t.Fatal(err)
				}
				p16 := cuda.DevPtr(0)
				if with16 {
					p16 = u16.Ptr()
				}
				if err := d.StepConvRows(variantStream(t, d, v), v, pxz, B, Din, pcw, pcb, st.Ptr(), Kc, io, u.Ptr(), z.Ptr(), p16); err != nil {
					t.Fatal(err)
				}
				gu := db.get(u, B*Din)
				if !with16 {
					uPlain = gu
					continue
				}
				report(t, "step conv rows u", name, relErr(gu, uw), 1e-5)
				report(t, "step conv rows z", name, relErr(db.get(z, B*Din), zw), 0)
				if Kc > 1 {
					report(t, "step conv rows state", name, relErr(db.get(st, len(st0)), stT), 1e-6)
				}
				if !slices.Equal(f32bits(gu), f32bits(uPlain)) {
					t.Errorf("%s: conv rows: other float32 bits with the bfloat16 output", name)
				}
				report(t, "step conv rows u16 (bits differing)", name, float64(bf16Mismatches(db.bf16Get(u16, B*Din), gu)), 0)
			}
		}
	}
}

// convStepRef is the convolution step of B rows on the CPU
// (kernels.Conv1d's reference over one time step): SiLU of the new value
// of each channel of xin (B, Din) over its state st0 (B, Din, Kc−1; a row
// with its reset flag reads zeros), and the states after.
func convStepRef(B, Din, Kc int, xin, cw, cb, st0 []float32, reset []bool) (u, stT []float32) {
	s0 := append([]float32(nil), st0...)
	for b := range B {
		if reset[b] {
			clear(s0[b*Din*(Kc-1) : (b+1)*Din*(Kc-1)])
		}
	}
	cv := kernels.Conv1d{B: B, L: 1, D: Din, K: Kc, X: xin, W: cw, Bias: cb, State0: s0,
		StateT: make([]float32, len(s0)), Y: make([]float32, B*Din)}
	cv.ForwardRef()
	u = make([]float32, B*Din)
	for k, y := range cv.Y {
		u[k] = kernels.SiLU(y)
	}
	return u, cv.StateT
}

func f32bits(x []float32) []uint32 {
	b := make([]uint32, len(x))
	for i, v := range x {
		b[i] = math.Float32bits(v)
	}
	return b
}

func TestStepGEMV(t *testing.T) {
	d := openOrSkip(t)
	for _, v := range stepVariants {
		testStepGEMV(t, d, v)
	}
}

func testStepGEMV(t *testing.T, d *Device, v StepVariant) {
	for i, c := range []struct{ B, D, Din, Kc int }{{1, 40, 24, 4}, {3, 37, 33, 3}, {8, 64, 128, 4}, {2, 16, 8, 1}, {1, 768, 1536, 4}, {1, 1536, 64, 4}, {1, 1600, 48, 4}} {
		if c.B > v.maxRows() {
			continue
		}
		name := fmt.Sprintf("%v B%d D%d Din%d K%d", v, c.B, c.D, c.Din, c.Kc)
		r := rand.New(rand.NewPCG(uint64(i), 12))
		B, D, Din, Kc := c.B, c.D, c.Din, c.Kc
		x, nw := rnd(r, B*D, -2, 2), rnd(r, D, 0.5, 1.5)
		win := rnd(r, 2*Din*D, -0.3, 0.3)
		cw, cb := rnd(r, Din*Kc, -1, 1), rnd(r, Din, -0.5, 0.5)
		st0 := rnd(r, B*Din*(Kc-1), -1, 1)
		reset := make([]bool, B)
		reset[0] = B > 1
		const eps = 1e-5
		xn, rstd := make([]float32, B*D), make([]float32, B)
		kernels.RMSNormForward(xn, rstd, x, nw, B, D, eps)
		xin, zc := make([]float32, B*Din), make([]float32, B*Din)
		kernels.MatMul(false, true, B, Din, D, xn, win[:Din*D], 0, xin)
		kernels.MatMul(false, true, B, Din, D, xn, win[Din*D:], 0, zc)
		uc, stT := convStepRef(B, Din, Kc, xin, cw, cb, st0, reset)
		db := newDevBufs(t, d)
		u, z := db.out(B*Din), db.out(B*Din)
		st := db.out(max(len(st0), 1))
		if err := st.CopyFromF32(st0); err != nil {
			t.Fatal(err)
		}
		g := &StepGEMV{B: B, N: 2 * Din, K: D, W: db.in(win), X: db.in(x), LDX: D, NormW: db.in(nw), Eps: eps,
			Out: u.Ptr(), Epi: EpiInConv, Out2: z.Ptr(), ConvW: db.in(cw), ConvB: db.in(cb), ConvState: st.Ptr(),
			Din: Din, Kc: Kc, IO: db.ints(stepIO(B, reset, 0)), V: v}
		g.L2 = [2]L2Range{{g.W, 4 * len(win)}, {g.NormW, 4 * len(nw)}} // the L2 form's hint: no result depends on it
		if err := g.Run(d, variantStream(t, d, v)); err != nil {
			t.Fatal(err)
		}
		report(t, "step in_proj+conv u", name, relErr(db.get(u, B*Din), uc), 1e-5)
		report(t, "step in_proj z", name, relErr(db.get(z, B*Din), zc), 1e-5)
		if Kc > 1 {
			report(t, "step conv state", name, relErr(db.get(st, len(st0)), stT), 1e-6)
		}

		// The residual add and the argmax over a vocabulary limit.
		V := 1000 + 3*i
		wv := rnd(r, V*D, -1, 1)
		res := rnd(r, B*V, -1, 1)
		want := append([]float32(nil), res...)
		kernels.MatMul(false, true, B, V, D, x, wv, 1, want)
		out := db.out(B * V)
		if err := out.CopyFromF32(res); err != nil {
			t.Fatal(err)
		}
		if err := (&StepGEMV{B: B, N: V, K: D, W: db.in(wv), X: db.in(x), LDX: D, Out: out.Ptr(), LDO: V, Epi: EpiAdd, V: v}).Run(d, variantStream(t, d, v)); err != nil {
			t.Fatal(err)
		}
		report(t, "step gemv add", name+fmt.Sprintf(" V%d", V), relErr(db.get(out, B*V), want), 1e-5)

		vlimit := V - 37
		io := db.ints(stepIO(B, nil, vlimit))
		keys, err := d.Alloc(8 * B)
		if err != nil {
			t.Fatal(err)
		}
		db.bufs = append(db.bufs, keys)
		logits := db.out(B * V)
		tab := db.in(wv)
		xs := db.out(B * D)
		ids := db.ints(append(make([]int32, B), make([]int32, B+2)...))
		xin2 := db.in(x)
		nw2 := db.in(nw)
		vs := variantStream(t, d, v)
		if err := d.StepEmbed(vs, v, xs.Ptr(), tab, ids, keys.Ptr(), 0, 0, B, D); err != nil {
			t.Fatal(err)
		}
		if err := (&StepGEMV{B: B, N: V, K: D, W: tab, X: xin2, LDX: D, NormW: nw2, Eps: eps, Out: logits.Ptr(), LDO: V,
			Epi: EpiArgmax, IO: io, Argmax: keys.Ptr(), V: v}).Run(d, vs); err != nil {
			t.Fatal(err)
		}
		lw := make([]float32, B*V)
		kernels.MatMul(false, true, B, V, D, xn, wv, 0, lw)
		lg := db.get(logits, B*V)
		report(t, "step lm_head logits", name+fmt.Sprintf(" V%d", V), relErr(lg, lw), 1e-5)
		raw := make([]byte, 8*B)
		if err := keys.CopyToBytes(raw); err != nil {
			t.Fatal(err)
		}
		for b := 0; b < B; b++ {
			got := ArgmaxID(binary.LittleEndian.Uint64(raw[8*b:]))
			best := 0
			for k, v := range lg[b*V : b*V+vlimit] {
				if v > lg[b*V+best] {
					best = k
				}
			}
			if got != int32(best) {
				t.Errorf("%s row %d: device argmax %d, host %d", name, b, got, best)
			}
		}
		emb := db.get(xs, B*D) // every id 0: every row is table row 0
		for b := 0; b < B; b++ {
			if relErr(emb[b*D:(b+1)*D], wv[:D]) != 0 {
				t.Errorf("%s: embedding row %d is not table row 0", name, b)
			}
		}
	}
}

// TestStepGEMVBF16: StepGEMV with W16 (step_gemv_e16, the early one-row
// kernel on bfloat16 weights) against products of the bfloat16-rounded
// weights and inputs (the normalized input rounded after the norm, as
// the CPU's bf16 Step rounds xn) summed in float64, for every epilogue:
// store (x_proj: an odd number of rows, the weights 8-byte aligned, not
// 16), the residual add (out_proj), in_proj's convolution step (with a
// reset), the head's argmax below a vocabulary limit. Sizes as
// TestStepGEMV's early cases: K 40 and 36 (two rows of W in flight a
// warp), 768 and 1536 (one row of 12 slots a lane). Each output also
// differs from the float32 weights' product: the weights were read as
// bfloat16.
func TestStepGEMVBF16(t *testing.T) {
	d := openOrSkip(t)
	for _, v := range stepVariants {
		if v.Early {
			testStepGEMVBF16(t, d, v)
		}
	}
}

// tolStepBF16 bounds step_gemv_e16 against the float64 sums of the same
// rounded operands (its products are exact in float32, its sums float32);
// minRoundedBF16 is the least difference from the float32 weights'
// product that shows the weights were rounded (bfloat16 keeps 8 bits).
const (
	tolStepBF16    = 1e-5
	minRoundedBF16 = 1e-4
)

// bf16Dot is y[n] = Σ_k bf16(x[k])·bf16(w[n·K+k]) in float64, for N rows.
func bf16Dot(N, K int, x, w []float32) []float32 {
	y := make([]float32, N)
	for n := range N {
		var s float64
		for k := range K {
			s += float64(roundBF16(x[k])) * float64(roundBF16(w[n*K+k]))
		}
		y[n] = float32(s)
	}
	return y
}

func testStepGEMVBF16(t *testing.T, d *Device, v StepVariant) {
	for i, c := range []struct {
		D, Din, Kc int
		reset      bool
	}{{40, 24, 4, false}, {768, 1536, 4, true}, {1536, 64, 4, false}, {36, 20, 3, true}} {
		name := fmt.Sprintf("%v bf16 D%d Din%d K%d", v, c.D, c.Din, c.Kc)
		r := rand.New(rand.NewPCG(uint64(i), 14))
		D, Din, Kc := c.D, c.Din, c.Kc
		const eps = 1e-5
		db := newDevBufs(t, d)
		// rounded checks one output: against the rounded operands'
		// product, and away from the float32 weights' one.
		rounded := func(what string, got, want, want32 []float32) {
			t.Helper()
			report(t, what, name, relErr(got, want), tolStepBF16)
			if e := relErr(got, want32); e < minRoundedBF16 {
				t.Errorf("%s %s: within %.1e of the float32 weights' product: the weights were not read as bfloat16", what, name, e)
			}
		}

		// in_proj: the norm, both halves, the convolution step.
		x, nw := rnd(r, D, -2, 2), rnd(r, D, 0.5, 1.5)
		win := rnd(r, 2*Din*D, -0.3, 0.3)
		cw, cb := rnd(r, Din*Kc, -1, 1), rnd(r, Din, -0.5, 0.5)
		st0 := rnd(r, Din*(Kc-1), -1, 1)
		reset := []bool{c.reset}
		xn, rstd := make([]float32, D), make([]float32, 1)
		kernels.RMSNormForward(xn, rstd, x, nw, 1, D, eps)
		xz := bf16Dot(2*Din, D, xn, win)
		xz32 := make([]float32, 2*Din)
		kernels.MatMul(false, true, 1, 2*Din, D, xn, win, 0, xz32)
		uc, stT := convStepRef(1, Din, Kc, xz[:Din], cw, cb, st0, reset)
		u32, _ := convStepRef(1, Din, Kc, xz32[:Din], cw, cb, st0, reset)
		u, z := db.out(Din), db.out(Din)
		st := db.out(len(st0))
		if err := st.CopyFromF32(st0); err != nil {
			t.Fatal(err)
		}
		g := &StepGEMV{B: 1, N: 2 * Din, K: D, W16: db.bf16(win), X: db.in(x), LDX: D, NormW: db.in(nw), Eps: eps,
			Out: u.Ptr(), Epi: EpiInConv, Out2: z.Ptr(), ConvW: db.in(cw), ConvB: db.in(cb), ConvState: st.Ptr(),
			Din: Din, Kc: Kc, IO: db.ints(stepIO(1, reset, 0)), V: v}
		g.L2 = [2]L2Range{{g.W16, 2 * len(win)}, {g.NormW, 4 * len(nw)}}
		if err := g.Run(d, variantStream(t, d, v)); err != nil {
			t.Fatal(err)
		}
		rounded("step gemv16 in_proj+conv u", db.get(u, Din), uc, u32)
		rounded("step gemv16 in_proj z", db.get(z, Din), xz[Din:], xz32[Din:])
		report(t, "step gemv16 conv state", name, relErr(db.get(st, len(st0)), stT), 1e-6)

		// x_proj: store, an odd number of rows; W16 8 bytes past a
		// 16-byte boundary (4 weights of padding before it).
		S := 37 + 2*i
		xu, wx := rnd(r, Din, -1, 1), rnd(r, S*Din, -0.5, 0.5)
		wantX := bf16Dot(S, Din, xu, wx)
		wantX32 := make([]float32, S)
		kernels.MatMul(false, true, 1, S, Din, xu, wx, 0, wantX32)
		outX := db.out(S)
		if err := (&StepGEMV{B: 1, N: S, K: Din, W16: db.bf16(append(make([]float32, 4), wx...)) + 8, X: db.in(xu), LDX: Din,
			Out: outX.Ptr(), LDO: S, Epi: EpiStore, V: v}).Run(d, variantStream(t, d, v)); err != nil {
			t.Fatal(err)
		}
		rounded("step gemv16 store", db.get(outX, S), wantX, wantX32)

		// out_proj: the residual add.
		y, wo, res := rnd(r, Din, -1, 1), rnd(r, D*Din, -0.5, 0.5), rnd(r, D, -1, 1)
		wantO, wantO32 := bf16Dot(D, Din, y, wo), append([]float32(nil), res...)
		for k := range wantO {
			wantO[k] += res[k]
		}
		kernels.MatMul(false, true, 1, D, Din, y, wo, 1, wantO32)
		outO := db.out(D)
		if err := outO.CopyFromF32(res); err != nil {
			t.Fatal(err)
		}
		if err := (&StepGEMV{B: 1, N: D, K: Din, W16: db.bf16(wo), X: db.in(y), LDX: Din, Out: outO.Ptr(), LDO: D, Epi: EpiAdd, V: v}).Run(d, variantStream(t, d, v)); err != nil {
			t.Fatal(err)
		}
		rounded("step gemv16 add", db.get(outO, D), wantO, wantO32)

		// The head: the final norm, the logits and their argmax below a
		// vocabulary limit.
		V := 1000 + 3*i
		wv := rnd(r, V*D, -1, 1)
		vlimit := V - 37
		keys, err := d.Alloc(8)
		if err != nil {
			t.Fatal(err)
		}
		db.bufs = append(db.bufs, keys)
		if err := keys.CopyFromBytes(make([]byte, 8)); err != nil {
			t.Fatal(err)
		}
		logits := db.out(V)
		if err := (&StepGEMV{B: 1, N: V, K: D, W16: db.bf16(wv), X: db.in(x), LDX: D, NormW: db.in(nw), Eps: eps, Out: logits.Ptr(), LDO: V,
			Epi: EpiArgmax, IO: db.ints(stepIO(1, nil, vlimit)), Argmax: keys.Ptr(), V: v}).Run(d, variantStream(t, d, v)); err != nil {
			t.Fatal(err)
		}
		lw32 := make([]float32, V)
		kernels.MatMul(false, true, 1, V, D, xn, wv, 0, lw32)
		lg := db.get(logits, V)
		rounded("step gemv16 lm_head logits", lg, bf16Dot(V, D, xn, wv), lw32)
		raw := make([]byte, 8)
		if err := keys.CopyToBytes(raw); err != nil {
			t.Fatal(err)
		}
		if got, best := ArgmaxID(binary.LittleEndian.Uint64(raw)), backbone.Sample(lg[:vlimit], backbone.Sampling{}, nil); got != best {
			t.Errorf("%s: device argmax %d, host argmax of the same logits %d", name, got, best)
		}
	}
}

func TestStepArgs(t *testing.T) {
	if ArgmaxID(0) != 0 || ArgmaxID(0xffffffff-41) != 41 {
		t.Error("ArgmaxID")
	}
	if StepIOLen(3) != 8 {
		t.Error("StepIOLen")
	}
	var d Device
	if err := (&StepGEMV{B: 9, N: 1, K: 1, W: 1, X: 1, Out: 1}).Run(&d, nil); err == nil {
		t.Error("B 9 accepted")
	}
	if err := (&StepGEMV{B: 2, N: 1, K: 1, W: 1, X: 1, Out: 1, V: StepVariant{MaxRows: 1}}).Run(&d, nil); err == nil {
		t.Error("B 2 accepted by the one-row kernels")
	}
	if err := (&StepGEMV{B: 1, N: 1, K: 1, W: 1, X: 1, Out: 1, V: StepVariant{PDL: true}}).Run(&d, nil); err == nil {
		t.Error("PDL without prefetch accepted")
	}
	for _, v := range []StepVariant{{Prefetch: true, Early: true}, {MaxRows: 1, Early: true}, {MaxRows: 1, Prefetch: true, L2: true}} {
		if err := (&StepGEMV{B: 1, N: 1, K: 1, W: 1, X: 1, Out: 1, V: v}).Run(&d, nil); err == nil {
			t.Errorf("%v accepted", v)
		}
	}
	if v := (StepVariant{MaxRows: 1, Prefetch: true, PDL: true, Early: true, L2: true}); v.String() != "rows≤1+prefetch+PDL+early+L2" || len(v.defines()) != 4 {
		t.Errorf("early variant %q, defines %v", v, v.defines())
	}
	if (StepVariant{MaxRows: 1, Prefetch: true}).String() != "rows≤1+prefetch" || len((StepVariant{}).defines()) != 0 {
		t.Error("variant names or defines")
	}
	if err := (&StepGEMV{B: 1, N: 4, K: 1, W: 1, X: 1, Out: 1, Epi: EpiInConv}).Run(&d, nil); err == nil {
		t.Error("conv epilogue without its buffers accepted")
	}
	if err := (&StepScan{B: 1, D: 1, N: 1, R: 2, U: 1, ALog: 1, Bm: 1, Cm: 1, H: 1, Y: 1, IO: 1}).Run(&d, nil); err == nil {
		t.Error("R without DtLow accepted")
	}
	// The early one-row kernel has no bfloat16 output (its bf16 out_proj
	// rounds y itself): refused before any kernel is loaded (d has none).
	sc := StepScan{B: 1, D: 1, N: 1, U: 1, ALog: 1, Bm: 1, Cm: 1, H: 1, Y: 1, IO: 1, Y16: 1, DtBF16: true,
		V: StepVariant{MaxRows: 1, Prefetch: true, Early: true}}
	if err := sc.launch(&d, nil, sc.kernel(132)); err == nil || !strings.Contains(err.Error(), "step_scan_e") {
		t.Errorf("early scan with Y16: %v", err)
	}
	// Bfloat16 weights: W16 instead of W, only in the early one-row
	// kernel (K a multiple of 4 up to 1536, W16 8-byte aligned); refused
	// before any kernel is loaded.
	early1 := StepVariant{MaxRows: 1, Prefetch: true, Early: true}
	for _, c := range []struct {
		name string
		g    StepGEMV
		want string
	}{
		{"W and W16", StepGEMV{B: 1, N: 4, K: 8, W: 16, W16: 16, X: 1, Out: 1, V: early1}, "one of W"},
		{"neither", StepGEMV{B: 1, N: 4, K: 8, X: 1, Out: 1, V: early1}, "one of W"},
		{"not early", StepGEMV{B: 1, N: 4, K: 8, W16: 16, X: 1, Out: 1, V: StepVariant{MaxRows: 1, Prefetch: true}}, "early one-row kernel only"},
		{"8 rows", StepGEMV{B: 8, N: 4, K: 8, W16: 16, X: 1, Out: 1}, "early one-row kernel only"},
		{"K 6", StepGEMV{B: 1, N: 4, K: 6, W16: 16, X: 1, Out: 1, V: early1}, "early one-row kernel only"},
		{"K 1540", StepGEMV{B: 1, N: 4, K: 1540, W16: 16, X: 1, Out: 1, V: early1}, "early one-row kernel only"},
		{"W16 at 4 bytes", StepGEMV{B: 1, N: 4, K: 8, W16: 20, X: 1, Out: 1, V: early1}, "8-byte aligned"},
		{"parts, not early", StepGEMV{B: 1, N: 4, K: 8, W: 16, X: 1, Out: 1, Parts: 64, NParts: 2, V: StepVariant{MaxRows: 1, Prefetch: true}}, "early one-row kernel only"},
		{"NParts without Parts", StepGEMV{B: 1, N: 4, K: 8, W: 16, X: 1, Out: 1, NParts: 2, V: early1}, "want NParts ≥ 1 with Parts"},
		{"Parts without NParts", StepGEMV{B: 1, N: 4, K: 8, W: 16, X: 1, Out: 1, Parts: 64, V: early1}, "want NParts ≥ 1 with Parts"},
		{"XSum without parts", StepGEMV{B: 1, N: 4, K: 8, W: 16, X: 1, Out: 1, XSum: 64, V: early1}, "want NParts ≥ 1 with Parts"},
	} {
		if err := c.g.Run(&d, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("step gemv, %s: %v; want an error containing %q", c.name, err, c.want)
		}
	}
	for _, c := range []struct {
		v    StepVariant
		B, K int
		w16  cuda.DevPtr
		want bool
	}{{early1, 1, 768, 256, true}, {early1, 1, 1536, 8, true}, {early1, 1, 1600, 256, false}, {early1, 1, 36, 4, false},
		{early1, 2, 768, 256, false}, {StepVariant{MaxRows: 1, Prefetch: true}, 1, 768, 256, false}} {
		if got := c.v.EarlyBF16(c.B, c.K, c.w16); got != c.want {
			t.Errorf("EarlyBF16(%v, B %d, K %d, W16 at %#x) = %v, want %v", c.v, c.B, c.K, uint64(c.w16), got, c.want)
		}
	}
	// The scan kernel of each shape, and step_scan_rows's shared memory
	// for the mamba-130m shape (A 32×20, projection rows 32×52, B and C
	// 8×16 each, Δ's input 8×48 floats).
	early := StepVariant{MaxRows: 1, Prefetch: true, Early: true}
	for _, c := range []struct {
		sc   StepScan
		want string
	}{
		{StepScan{B: 256, D: 1536, N: 16, R: 48, LDB: 80, LDC: 80}, "step_scan_rows"},
		{StepScan{B: 17, D: 1536, N: 16, R: 48, LDB: 80, LDC: 80}, "step_scan_rows"}, // 48·3 blocks
		{StepScan{B: 16, D: 1536, N: 16, R: 48, LDB: 80, LDC: 80}, "step_scan"},      // 48·2 < 132
		{StepScan{B: 8, D: 1536, N: 16, R: 48, LDB: 80, LDC: 80}, "step_scan"},
		{StepScan{B: 1, D: 1536, N: 16, R: 48, LDB: 80, LDC: 80}, "step_scan"},
		{StepScan{B: 1, D: 1536, N: 16, R: 48, LDB: 80, LDC: 80, V: early}, "step_scan_e"},
		{StepScan{B: 1, D: 1536, N: 16, R: 65, V: early}, "step_scan"},
		{StepScan{B: 64, D: 1536, N: 16, R: 48, AImag: 1}, "step_scan"},
		{StepScan{B: 64, D: 1536, N: 16, R: 400}, "step_scan"},
	} {
		if got := c.sc.kernel(132); got != c.want {
			t.Errorf("B %d R %d complex %v %v: kernel %s, want %s", c.sc.B, c.sc.R, c.sc.AImag != 0, c.sc.V, got, c.want)
		}
	}
	if n := (&StepScan{N: 16, R: 48, LDB: 80, LDC: 80}).rowsShared(8); n != 4*(32*20+32*52+2*8*16+8*48) {
		t.Errorf("step_scan_rows shared memory %d bytes", n)
	}
}

// TestStepResources logs the step kernels' registers, local and shared
// memory (spills show as local memory).
func TestStepResources(t *testing.T) {
	d := openOrSkip(t)
	for _, v := range stepVariants {
		names := []string{"step_embed", "step_gemv", "step_scan", "step_scan_rows"}
		if v.Early {
			names = append(names, "step_gemv_e", "step_gemv_e16", "step_scan_e")
		}
		for _, n := range names {
			f, err := d.stepKernel(v, n)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("resources %-24v %-10s %3d registers, %d bytes local, %d bytes static shared", v, n, f.Regs, f.LocalBytes, f.StaticShared)
		}
	}
}

// TestStepRowsIters: the groups of rows a block of step_scan_rows takes
// at the 130M shape on 132 multiprocessors (docs/gpu.md's measurements):
// 4 at 256 rows, 2 at 128, 1 at 64 and below; never 0.
func TestStepRowsIters(t *testing.T) {
	if stepRowIters() != 0 {
		t.Skip("$MAMBAKIT_CUDA_STEP_ROW_ITERS is set")
	}
	for _, c := range []struct{ B, want int }{{256, 4}, {512, 4}, {128, 2}, {64, 1}, {17, 1}, {2, 1}} {
		s := &StepScan{B: c.B, D: 1536, N: 16, R: 48}
		if got := s.rowsIters(132); got != c.want {
			t.Errorf("B %d: %d groups a block, want %d", c.B, got, c.want)
		}
	}
	if got := (&StepScan{B: 256, D: 1536, N: 16, R: 48}).rowsIters(0); got < 1 {
		t.Errorf("no multiprocessors: %d groups a block", got)
	}
}
