package cudakernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mambakit/mambakit/framework/cuda"
	"github.com/mambakit/mambakit/framework/kernels"
)

// TestConv1d runs the convolution against kernels.Conv1d on sizes that
// cross the kernels' segments (convSeg positions) and blocks of 128
// channels, K up to 16, with and without bias, carried state, resets and
// SiLU fused (U, U16 forward; DU, DX16 backward).
func TestConv1d(t *testing.T) {
	d := openOrSkip(t)
	for i, c := range []struct {
		B, L, D, K   int
		bias, state  bool
		reset, stout bool
		silu         bool
	}{
		{2, 50, 37, 4, true, true, true, true, false},
		{1, 3, 5, 4, true, true, false, true, true},
		{3, 200, 64, 4, false, false, false, false, true},
		{2, 70, 33, 3, true, true, true, true, false},
		{1, 20, 8, 1, true, false, true, false, true},
		{2, 130, 129, 4, true, true, true, true, true},
		{1, 0, 9, 4, true, true, false, true, false},
		{2, 1, 9, 4, true, true, true, true, true},
		{2, 150, 20, 7, true, true, true, true, true},
		{1, 64, 200, 16, true, true, true, true, false},
		{2, 65, 3, 2, false, true, true, true, true},
	} {
		r := rand.New(rand.NewPCG(uint64(i), 3))
		B, L, D, K := c.B, c.L, c.D, c.K
		cc := &kernels.Conv1d{B: B, L: L, D: D, K: K, X: rnd(r, B*L*D, -1, 1), W: rnd(r, D*K, -1, 1), Y: make([]float32, B*L*D)}
		if c.bias {
			cc.Bias = rnd(r, D, -1, 1)
		}
		if c.state {
			cc.State0 = rnd(r, B*D*(K-1), -1, 1)
		}
		if c.reset {
			cc.Reset = make([]bool, B*L)
			for j := range cc.Reset {
				cc.Reset[j] = r.Float32() < 0.08
			}
		}
		if c.stout {
			cc.StateT = make([]float32, B*D*(K-1))
		}
		db := newDevBufs(t, d)
		gc := &Conv1d{B: B, L: L, D: D, K: K, X: db.in(cc.X), W: db.in(cc.W), Bias: db.in(cc.Bias), State0: db.in(cc.State0), Reset: db.bools(cc.Reset)}
		y := db.out(B * L * D)
		gc.Y = y.Ptr()
		var st, u, u16 *cuda.Buffer
		if c.stout {
			st = db.out(B * D * (K - 1))
			gc.StateT = st.Ptr()
		}
		if c.silu {
			u, u16 = db.out(B*L*D), db.out((B*L*D+1)/2)
			gc.U, gc.U16 = u.Ptr(), u16.Ptr()
		}
		if err := d.Conv1dForward(gc); err != nil {
			t.Fatal(err)
		}
		shape := fmt.Sprintf("B%d L%d D%d K%d", B, L, D, K)
		gotY := db.get(y, B*L*D)
		cc.ForwardRef()
		report(t, "conv1d fwd Y", shape, relErr(gotY, cc.Y), 1e-5)
		if st != nil && K > 1 {
			report(t, "conv1d fwd StateT", shape, relErr(db.get(st, B*D*(K-1)), cc.StateT), 1e-6)
		}
		if c.silu {
			gotU, wantU := db.get(u, B*L*D), make([]float32, B*L*D)
			kernels.SiLUForward(wantU, cc.Y)
			report(t, "conv1d fwd U (SiLU fused)", shape, relErr(gotU, wantU), 1e-5)
			report(t, "conv1d fwd U16 (bits differing)", shape, float64(bf16Mismatches(db.bf16Get(u16, B*L*D), gotU)), 0)
		}
		g := &kernels.Conv1dGrads{DX: make([]float32, B*L*D), DW: make([]float32, D*K), DBias: make([]float32, D)}
		gg := &Conv1dGrads{}
		if c.silu {
			g.DU = rnd(r, B*L*D, -1, 1)
			gg.DU = db.in(g.DU)
		} else {
			g.DY = rnd(r, B*L*D, -1, 1)
			gg.DY = db.in(g.DY)
		}
		if c.state {
			g.DState0 = make([]float32, B*D*(K-1))
		}
		dx, dw, dbias := db.out(B*L*D), db.out(D*K), db.out(D)
		gg.DX, gg.DW, gg.DBias = dx.Ptr(), dw.Ptr(), dbias.Ptr()
		var dx16 *cuda.Buffer
		if c.silu {
			dx16 = db.out((B*L*D + 1) / 2)
			gg.DX16 = dx16.Ptr()
		}
		var ds *cuda.Buffer
		if g.DState0 != nil {
			ds = db.out(len(g.DState0))
			gg.DState0 = ds.Ptr()
		}
		if err := d.Conv1dBackward(gc, gg); err != nil {
			t.Fatal(err)
		}
		cc.Backward(g)
		gotDX := db.get(dx, B*L*D)
		report(t, "conv1d bwd DX", shape, relErr(gotDX, g.DX), 1e-5)
		report(t, "conv1d bwd DW", shape, relErr(db.get(dw, D*K), g.DW), 1e-5)
		report(t, "conv1d bwd DBias", shape, relErr(db.get(dbias, D), g.DBias), 1e-5)
		if ds != nil && K > 1 {
			report(t, "conv1d bwd DState0", shape, relErr(db.get(ds, len(g.DState0)), g.DState0), 1e-5)
		}
		if dx16 != nil {
			report(t, "conv1d bwd DX16 (bits differing)", shape, float64(bf16Mismatches(db.bf16Get(dx16, B*L*D), gotDX)), 0)
		}
	}
}

// bf16Mismatches counts the elements of got (bfloat16 bits) that are not
// kernels.RoundBF16 of want.
func bf16Mismatches(got []uint16, want []float32) int {
	bad := 0
	for i, w := range want {
		if got[i] != kernels.RoundBF16(w) {
			bad++
		}
	}
	return bad
}

func TestRMSNorm(t *testing.T) {
	d := openOrSkip(t)
	// Rows of 2048 to 4096 columns take rmsnorm_bwd_rows (many rows a
	// block at 300 × 2048), the others rmsnorm_bwd.
	for i, sz := range [][2]int{{37, 300}, {1, 7}, {256, 768}, {5, 1025}, {700, 768}, {300, 2048}, {40, 2500}, {9, 4096}, {3, 5000}} {
		r := rand.New(rand.NewPCG(uint64(i), 5))
		M, C := sz[0], sz[1]
		x, w := rnd(r, M*C, -2, 2), rnd(r, C, 0.5, 1.5)
		y, rstd := make([]float32, M*C), make([]float32, M)
		kernels.RMSNormForward(y, rstd, x, w, M, C, 1e-5)
		db := newDevBufs(t, d)
		gy, gy16, gr := db.out(M*C), db.out((M*C+1)/2), db.out(M)
		px, pw := db.in(x), db.in(w)
		if err := d.RMSNormForward(gy.Ptr(), gy16.Ptr(), gr.Ptr(), px, pw, M, C, 1e-5); err != nil {
			t.Fatal(err)
		}
		shape := fmt.Sprintf("M%d C%d", M, C)
		gotY := db.get(gy, M*C)
		report(t, "rmsnorm fwd y", shape, relErr(gotY, y), 1e-5)
		report(t, "rmsnorm fwd y16 (bits differing)", shape, float64(bf16Mismatches(db.bf16Get(gy16, M*C), gotY)), 0)
		report(t, "rmsnorm fwd rstd", shape, relErr(db.get(gr, M), rstd), 1e-5)
		dy := rnd(r, M*C, -1, 1)
		dw0 := rnd(r, C, -1, 1)
		dx, dw := make([]float32, M*C), append([]float32(nil), dw0...)
		kernels.RMSNormBackward(dx, dw, dy, x, w, rstd, M, C)
		gdx := db.out(M * C)
		gdw := db.in(dw0)
		pdy := db.in(dy)
		if err := d.RMSNormBackward(gdx.Ptr(), 0, gdw, pdy, px, pw, gr.Ptr(), M, C, false); err != nil {
			t.Fatal(err)
		}
		gotDX := db.get(gdx, M*C)
		report(t, "rmsnorm bwd dx", shape, relErr(gotDX, dx), 1e-5)
		// addDX: a residual gradient plus dx, the same bits as adding after.
		res := rnd(r, M*C, -1, 1)
		pres, scratch, pres16 := db.in(res), db.in(dw0), db.out((M*C+1)/2)
		if err := d.RMSNormBackward(pres, pres16.Ptr(), scratch, pdy, px, pw, gr.Ptr(), M, C, true); err != nil {
			t.Fatal(err)
		}
		bad := 0
		gotRes := db.get(d.View(pres, 4*M*C), M*C)
		for i, v := range gotRes {
			if math.Float32bits(v) != math.Float32bits(res[i]+gotDX[i]) {
				bad++
			}
		}
		report(t, "rmsnorm bwd dx added to a residual gradient (values differing from res + dx)", shape, float64(bad), 0)
		report(t, "rmsnorm bwd dx16 (bits differing)", shape, float64(bf16Mismatches(db.bf16Get(pres16, M*C), gotRes)), 0)
		got := make([]float32, C)
		if err := (d.View(gdw, 4*C)).CopyToF32(got); err != nil {
			t.Fatal(err)
		}
		report(t, "rmsnorm bwd dw (+=)", shape, relErr(got, dw), 1e-5)
	}
}

func sig64(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func TestElementwise(t *testing.T) {
	d := openOrSkip(t)
	r := rand.New(rand.NewPCG(1, 9))
	n := 100003
	x, z, dy := rnd(r, n, -12, 12), rnd(r, n, -12, 12), rnd(r, n, -1, 1)
	db := newDevBufs(t, d)
	px, pz, pdy := db.in(x), db.in(z), db.in(dy)
	shape := fmt.Sprintf("n%d", n)
	run := func(name string, want []float32, f func(out cuda.DevPtr) error) {
		o := db.out(n)
		if err := f(o.Ptr()); err != nil {
			t.Fatal(err)
		}
		report(t, name, shape, relErr(db.get(o, n), want), 1e-5)
	}
	want := make([]float32, n)
	kernels.SiLUForward(want, x)
	run("silu fwd", want, func(o cuda.DevPtr) error { return d.SiLUForward(o, px, n) })
	want = make([]float32, n)
	kernels.SiLUBackward(want, dy, x)
	run("silu bwd", want, func(o cuda.DevPtr) error { return d.SiLUBackward(o, pdy, px, n) })
	gate, gdx, gdz := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range x {
		xv, zv, g := float64(x[i]), float64(z[i]), float64(dy[i])
		s := sig64(zv)
		gate[i] = float32(xv * zv * s)
		gdx[i] = float32(g * zv * s)
		gdz[i] = float32(g * xv * s * (1 + zv*(1-s)))
	}
	run("gate fwd", gate, func(o cuda.DevPtr) error { return d.GateForward(o, px, pz, n) })
	run("gate bwd dx", gdx, func(o cuda.DevPtr) error { return d.GateBackward(o, 0, pdy, px, pz, n) })
	run("gate bwd dz", gdz, func(o cuda.DevPtr) error { return d.GateBackward(0, o, pdy, px, pz, n) })
	C := 37
	bias := rnd(r, C, -2, 2)
	pb := db.in(bias)
	sp, spg := make([]float32, n), make([]float32, n)
	for i := range x {
		v := x[i] + bias[i%C]
		sp[i] = kernels.Softplus(v)
		g := 1.0
		if v <= 20 {
			g = sig64(float64(v))
		}
		spg[i] = float32(float64(dy[i]) * g)
	}
	run("softplus fwd (+bias)", sp, func(o cuda.DevPtr) error { return d.SoftplusForward(o, px, pb, C, n) })
	run("softplus bwd (+bias)", spg, func(o cuda.DevPtr) error { return d.SoftplusBackward(o, pdy, px, pb, C, n) })
}

// TestToBF16: the GPU's rounding to bfloat16 is kernels.RoundBF16, bit for
// bit, on random values of every magnitude, exact ties, values that
// round up into the next exponent and to Inf, NaNs, infinities and
// subnormals.
func TestToBF16(t *testing.T) {
	d := openOrSkip(t)
	r := rand.New(rand.NewPCG(4, 16))
	x := []float32{0, float32(math.Copysign(0, -1)), 1, -1, float32(math.Inf(1)), float32(math.Inf(-1)),
		math.Float32frombits(0x7fc00001), math.Float32frombits(0xffa00000), math.Float32frombits(0x7f800001),
		math.Float32frombits(0x3f808000), math.Float32frombits(0x3f818000), math.Float32frombits(0x3f80ffff),
		math.Float32frombits(0x7f7fffff), math.Float32frombits(0x00000001), math.Float32frombits(0x00018000)}
	for range 100000 {
		x = append(x, math.Float32frombits(r.Uint32()))
	}
	db := newDevBufs(t, d)
	px := db.in(x)
	o := db.out((len(x) + 1) / 2)
	if err := d.ToBF16(o.Ptr(), px, len(x)); err != nil {
		t.Fatal(err)
	}
	if err := d.Synchronize(); err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, 2*len(x))
	if err := o.CopyToBytes(raw); err != nil {
		t.Fatal(err)
	}
	bad := 0
	for i, v := range x {
		got, want := uint16(raw[2*i])|uint16(raw[2*i+1])<<8, kernels.RoundBF16(v)
		if got != want {
			if bad++; bad <= 5 {
				t.Errorf("x %#08x: GPU %#04x, kernels.RoundBF16 %#04x", math.Float32bits(v), got, want)
			}
		}
	}
	report(t, "to bf16 (bits differing)", fmt.Sprintf("n%d", len(x)), float64(bad), 0)
}

func TestCrossEntropy(t *testing.T) {
	d := openOrSkip(t)
	for i, sz := range [][2]int{{37, 1000}, {4, 50280}, {1, 3}} {
		r := rand.New(rand.NewPCG(uint64(i), 13))
		M, V := sz[0], sz[1]
		logits := rnd(r, M*V, -8, 8)
		tg := make([]int32, M)
		for j := range tg {
			tg[j] = int32(r.IntN(V))
			if j%5 == 3 {
				tg[j] = -1
			}
		}
		dl := make([]float32, M*V)
		loss, count := kernels.CrossEntropy(dl, logits, tg, V, 0.25)
		db := newDevBufs(t, d)
		gdl := db.out(M * V)
		gl, gc, err := d.CrossEntropy(gdl.Ptr(), db.in(logits), db.ints(tg), M, V, 0.25)
		if err != nil {
			t.Fatal(err)
		}
		shape := fmt.Sprintf("M%d V%d", M, V)
		if gc != count {
			t.Errorf("%s: count %d, want %d", shape, gc, count)
		}
		report(t, "cross-entropy loss", shape, math.Abs(gl-loss)/math.Max(math.Abs(loss), 1e-30), 1e-5)
		report(t, "cross-entropy dlogits", shape, relErr(db.get(gdl, M*V), dl), 1e-5)
	}
}

// TestCrossEntropySavedStats: a backward that reads the row statistics
// its forward saved gives the same bits as one that recomputes them, and
// the bfloat16 gradient is RoundBF16 of the float32 one, bit for bit.
func TestCrossEntropySavedStats(t *testing.T) {
	d := openOrSkip(t)
	for i, sz := range [][2]int{{37, 1000}, {3, 50280}, {1, 3}} {
		r := rand.New(rand.NewPCG(uint64(i), 17))
		M, V := sz[0], sz[1]
		tg := make([]int32, M)
		for j := range tg {
			tg[j] = int32(r.IntN(V))
			if j%4 == 1 {
				tg[j] = -1
			}
		}
		db := newDevBufs(t, d)
		logits, targets := db.in(rnd(r, M*V, -8, 8)), db.ints(tg)
		stats, dl0, dl1, dl16 := db.out(2*M), db.out(M*V), db.out(M*V), db.out((M*V+1)/2)
		shape := fmt.Sprintf("M%d V%d", M, V)
		x := XEnt{Logits: logits, Targets: targets, M: M, V: V, Scale: 0.5}
		// The forward: the loss, the statistics saved.
		fwd := x
		fwd.Stats = stats.Ptr()
		l0, c0, err := d.CrossEntropyWith(&fwd)
		if err != nil {
			t.Fatal(err)
		}
		// A gradient recomputing the statistics, then one reading them.
		re := x
		re.DLogits = dl0.Ptr()
		l1, c1, err := d.CrossEntropyWith(&re)
		if err != nil {
			t.Fatal(err)
		}
		if l0 != l1 || c0 != c1 {
			t.Errorf("%s: loss %v (%d rows) with statistics saved, %v (%d) without", shape, l0, c0, l1, c1)
		}
		sv := x
		sv.DLogits, sv.DLogits16, sv.Stats, sv.Saved, sv.NoLoss = dl1.Ptr(), dl16.Ptr(), stats.Ptr(), true, true
		if l, c, err := d.CrossEntropyWith(&sv); err != nil || l != 0 || c != 0 {
			t.Fatalf("%s: NoLoss: %v, %d, %v; want 0, 0, nil", shape, l, c, err)
		}
		want, got := db.get(dl0, M*V), db.get(dl1, M*V)
		raw := make([]byte, 2*M*V)
		if err := d.View(dl16.Ptr(), 2*M*V).CopyToBytes(raw); err != nil {
			t.Fatal(err)
		}
		bad := 0
		for j := range want {
			h := uint16(raw[2*j]) | uint16(raw[2*j+1])<<8
			if math.Float32bits(got[j]) != math.Float32bits(want[j]) || h != kernels.RoundBF16(want[j]) {
				if bad++; bad <= 5 {
					t.Errorf("%s: element %d: %v (bf16 %#04x) from saved statistics, %v recomputed", shape, j, got[j], h, want[j])
				}
			}
		}
		report(t, "cross-entropy from saved statistics (elements differing)", shape, float64(bad), 0)
	}
	if _, _, err := d.CrossEntropyWith(&XEnt{M: 1, V: 1, Saved: true}); err == nil {
		t.Error("Saved without Stats: no error")
	}
}

// TestAdamW runs three steps against backbone.AdamW.Step written out:
// plain; with two gradient factors not yet applied (read as if the
// gradient had been scaled in place first: the same bits); with one
// factor and the bfloat16 copy written (the bits of rounding p after).
func TestAdamW(t *testing.T) {
	d := openOrSkip(t)
	r := rand.New(rand.NewPCG(2, 2))
	n := 50001
	c := AdamW{Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1}
	p, m, v := rnd(r, n, -1, 1), rnd(r, n, -0.1, 0.1), rnd(r, n, 0, 0.01)
	db := newDevBufs(t, d)
	pp, pm, pv := db.in(p), db.in(m), db.in(v)
	p16, err := d.Alloc(2 * n)
	if err != nil {
		t.Fatal(err)
	}
	defer p16.Free()
	scales := [][]float32{nil, {0.25, 0.7}, {0.3}}
	for step := 1; step <= 3; step++ {
		g := rnd(r, n, -1, 1)
		gd := db.in(g)
		for _, f := range scales[step-1] {
			for i := range g {
				g[i] *= f
			}
		}
		lr := 1e-3 * float64(step)
		decay := step != 2
		// The CPU update of backbone.AdamW.Step, written out.
		bc1 := 1 - math.Pow(c.Beta1, float64(step))
		bc2 := 1 - math.Pow(c.Beta2, float64(step))
		stepSize, sq := float32(lr/bc1), float32(math.Sqrt(bc2))
		b1, b2, eps := float32(c.Beta1), float32(c.Beta2), float32(c.Eps)
		dec := float32(1)
		if decay {
			dec = float32(1 - lr*c.WeightDecay)
		}
		for i := range p {
			m[i] = b1*m[i] + (1-b1)*g[i]
			v[i] = b2*v[i] + (1-b2)*g[i]*g[i]
			p[i] = p[i]*dec - stepSize*m[i]/(float32(math.Sqrt(float64(v[i])))/sq+eps)
		}
		sp := AdamWSpan{P: pp, G: gd, M: pm, V: pv, N: n, Decay: decay, GradScale: scales[step-1]}
		if step == 3 {
			sp.P16 = p16.Ptr()
		}
		if err := d.AdamWStep(sp, c, step, lr); err != nil {
			t.Fatal(err)
		}
	}
	get := func(ptr cuda.DevPtr) []float32 {
		x := make([]float32, n)
		if err := d.Synchronize(); err != nil {
			t.Fatal(err)
		}
		if err := (d.View(ptr, 4*n)).CopyToF32(x); err != nil {
			t.Fatal(err)
		}
		return x
	}
	shape := fmt.Sprintf("n%d, 3 steps", n)
	gp := get(pp)
	report(t, "adamw p", shape, relErr(gp, p), 1e-6)
	report(t, "adamw m", shape, relErr(get(pm), m), 1e-6)
	report(t, "adamw v", shape, relErr(get(pv), v), 1e-6)
	raw := make([]byte, 2*n)
	if err := p16.CopyToBytes(raw); err != nil {
		t.Fatal(err)
	}
	bad := 0
	for i, x := range gp {
		if binary.LittleEndian.Uint16(raw[2*i:]) != kernels.RoundBF16(x) {
			bad++
		}
	}
	t.Logf("adamw p16 against RoundBF16 of p: %d of %d differ", bad, n)
	if bad > 0 {
		t.Errorf("adamw p16: %d of %d not RoundBF16 of the updated p", bad, n)
	}
	if err := d.AdamWStep(AdamWSpan{P: pp, G: pp, M: pm, V: pv, N: n, GradScale: []float32{1, 2, 3}}, c, 4, 1e-3); err == nil {
		t.Error("three gradient factors: no error")
	}
}

func TestMatMul(t *testing.T) {
	d := openOrSkip(t)
	bl, err := d.BLAS()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cuBLAS %d from %s", bl.Version, bl.Path)
	// bf16: cublasGemmEx on bfloat16 data (MatMulBF16) against
	// kernels.MatMulBF16, which rounds the same inputs to bfloat16 and
	// sums in float32; tf32 against float32.
	type mode struct {
		name   string
		math   cuda.Math
		data16 bool
		tol    float64
	}
	for _, md := range []mode{{"cublas sgemm", cuda.MathFP32, false, 1e-5}, {"cublas sgemm tf32", cuda.MathTF32, false, 3e-3},
		{"cublas gemmEx bf16 data", cuda.MathFP32, true, 1e-5}} {
		if err := bl.SetMath(md.math); err != nil {
			t.Fatal(err)
		}
		for i, sz := range [][3]int{{67, 45, 129}, {1, 300, 77}, {256, 512, 384}} {
			for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
				r := rand.New(rand.NewPCG(uint64(i), 17))
				m, n, k := sz[0], sz[1], sz[2]
				a, b, c0 := rnd(r, m*k, -1, 1), rnd(r, k*n, -1, 1), rnd(r, m*n, -1, 1)
				want := append([]float32(nil), c0...)
				if md.data16 {
					kernels.MatMulBF16(tr[0], tr[1], m, n, k, a, b, 0.5, want)
				} else {
					kernels.MatMul(tr[0], tr[1], m, n, k, a, b, 0.5, want)
				}
				db := newDevBufs(t, d)
				pc := db.in(c0)
				var err error
				if md.data16 {
					err = bl.MatMulBF16(tr[0], tr[1], m, n, k, db.bf16(a), db.bf16(b), 0.5, pc)
				} else {
					err = bl.MatMul(tr[0], tr[1], m, n, k, db.in(a), db.in(b), 0.5, pc)
				}
				if err != nil {
					t.Fatal(err)
				}
				got := db.get(d.View(pc, 4*m*n), m*n)
				report(t, md.name, fmt.Sprintf("m%d n%d k%d tA=%v tB=%v β=.5", m, n, k, tr[0], tr[1]), relErr(got, want), md.tol)
			}
		}
	}
	if err := bl.SetMath(cuda.MathFP32); err != nil {
		t.Fatal(err)
	}
}

// TestBlocksBy: the blocks a multiprocessor holds, by registers, warps
// and the block limit (no GPU needed).
func TestBlocksBy(t *testing.T) {
	for _, c := range []struct{ regs, nt, want int }{
		{103, 256, 2}, // 3,328 registers a warp: 19 warps
		{103, 96, 6},
		{32, 32, 32}, // the block limit
		{32, 256, 8}, // 64 warps
		{255, 512, 1},
		{0, 128, 16},
	} {
		if got := blocksBy(c.regs, c.nt); got != c.want {
			t.Errorf("blocksBy(%d, %d) = %d, want %d", c.regs, c.nt, got, c.want)
		}
	}
}
