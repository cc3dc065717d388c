package cudakernels

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/cuda"
	"github.com/mambakit/mambakit/framework/kernels"
)

// TestStepScanFold: the scan step with x_proj folded in (step_scan_ex)
// against x_proj worked out on the host (in float64, from the weights
// and u as the kernel reads them: bfloat16-rounded for XW16) and the
// early scan step (step_scan_e) reading it; XOut holds NaN, so a fold
// that read it would show. Real A with Δ's input, B and C per row (the
// Stepper's packed layout), B per channel, no Δ input (R 0), complex A
// (real and imaginary B and C per row), and the mamba-130m shape; float32
// and bfloat16 weights; with and without PDL; twice from the same state
// for the same bits. Each shape then folds out_proj in as well (FoldOut,
// D/2 rows): the same Y and H bits, and out_proj's parts, added in row
// order, against its product over y on the host (y bfloat16-rounded
// with bfloat16 weights).
func TestStepScanFold(t *testing.T) {
	d := openOrSkip(t)
	if d.Major < 9 {
		t.Skipf("thread block clusters need sm_90, the device is sm_%d%d", d.Major, d.Minor)
	}
	for _, v := range []StepVariant{{MaxRows: 1, Prefetch: true, Early: true, Fold: true},
		{MaxRows: 1, Prefetch: true, PDL: true, Early: true, Fold: true}} {
		for i, c := range []foldCase{
			{64, 16, 4, false, false, false, false, "packed"},
			{64, 16, 4, false, false, true, true, "packed bf16"},
			{128, 8, 6, true, false, false, false, "B per channel"},
			{192, 16, 0, false, false, true, false, "R 0"},
			{128, 8, 4, false, true, false, false, "complex"},
			{128, 8, 4, false, true, true, true, "complex bf16"},
			{1536, 16, 48, false, false, false, false, "mamba-130m"},
			{1536, 16, 48, false, false, true, true, "mamba-130m bf16"},
		} {
			testStepScanFold(t, d, v, i, c)
		}
	}
}

// foldCase is a shape of TestStepScanFold: B per channel (bpc), complex
// A (cx), bfloat16 weights (w16), Δ's inputs rounded (dt16).
type foldCase struct {
	D, N, R            int
	bpc, cx, w16, dt16 bool
	hint               string
}

func testStepScanFold(t *testing.T, d *Device, v StepVariant, seed int, fc foldCase) {
	D, N, R, bpc, cx, w16, dt16, hint := fc.D, fc.N, fc.R, fc.bpc, fc.cx, fc.w16, fc.dt16, fc.hint
	r := rand.New(rand.NewPCG(uint64(seed), 17))
	cf := 1
	if cx {
		cf = 2
	}
	// x_proj's rows: Δ's input (R), B (N, and N imaginary when complex)
	// unless per channel, C (N, and N imaginary).
	nb := cf * N
	if bpc {
		nb = 0
	}
	S := R + nb + cf*N
	u, z := rnd(r, D, -1, 1), rnd(r, D, -3, 3)
	w := rnd(r, S*D, -0.2, 0.2)
	dtW, dtB := rnd(r, D*max(R, 1), -0.5, 0.5), rnd(r, D, -3, 0.5)
	alog, aimag := rnd(r, D*N, -1, 1.5), rnd(r, D*N, -3, 3)
	bpar, bipar := rnd(r, D*N, -1, 1), rnd(r, D*N, -1, 1)
	dskip := rnd(r, D, 0.5, 1.5)
	h0 := rnd(r, D*N*cf, -1, 1)
	// x_proj on the host, from what the kernel reads.
	x := hostDot(S, D, u, w, w16)
	db := newDevBufs(t, d)
	y, h := db.out(D), db.out(len(h0))
	xp := db.in(x)
	xout := db.out(S) // NaN: the fold must not read it
	at := func(p cuda.DevPtr, i int) cuda.DevPtr { return p + cuda.DevPtr(4*i) }
	sc := StepScan{B: 1, D: D, N: N, R: R, U: db.in(u), Z: db.in(z), DtBias: db.in(dtB), ALog: db.in(alog),
		Dskip: db.in(dskip), H: h.Ptr(), Y: y.Ptr(), IO: db.ints(stepIO(1, nil, 0)), DtBF16: dt16, V: v}
	if R > 0 {
		sc.DtLow, sc.LDDt, sc.DtW = xp, S, db.in(dtW)
	}
	if bpc {
		sc.Bm = db.in(bpar)
		if cx {
			sc.BImag = db.in(bipar)
		}
	} else {
		sc.Bm, sc.LDB = at(xp, R), S
		if cx {
			sc.BImag = at(xp, R+N)
		}
	}
	sc.Cm, sc.LDC = at(xp, R+nb), S
	if cx {
		sc.AImag, sc.CImag = db.in(aimag), at(xp, R+nb+N)
	}
	name := fmt.Sprintf("%v %s D%d N%d R%d S%d", v, hint, D, N, R, S)
	run := func(sc *StepScan) ([]float32, []float32) {
		if err := h.CopyFromF32(h0); err != nil {
			t.Fatal(err)
		}
		if err := sc.Run(d, variantStream(t, d, v)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return db.get(y, D), db.get(h, len(h0))
	}
	// The reference: step_scan_e reading x.
	ref := sc
	ref.V.Fold = false
	wantY, wantH := run(&ref)
	// The fold: the same pointers moved from x to XOut.
	fo := sc
	move := func(p cuda.DevPtr) cuda.DevPtr {
		if p >= xp && p < at(xp, S) {
			return xout.Ptr() + (p - xp)
		}
		return p
	}
	fo.DtLow, fo.Bm, fo.BImag, fo.Cm, fo.CImag = move(sc.DtLow), move(sc.Bm), move(sc.BImag), move(sc.Cm), move(sc.CImag)
	if w16 {
		fo.XW16 = db.bf16(w)
	} else {
		fo.XW = db.in(w)
	}
	fo.XS, fo.XOut = S, xout.Ptr()
	if err := fo.Folds(d); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	gotY, gotH := run(&fo)
	report(t, "step scan with x_proj folded, Y", name, relErr(gotY, wantY), 1e-5)
	report(t, "step scan with x_proj folded, H", name, relErr(gotH, wantH), 1e-5)
	y2, h2 := run(&fo)
	if !slices.Equal(f32bits(y2), f32bits(gotY)) || !slices.Equal(f32bits(h2), f32bits(gotH)) {
		t.Errorf("%s: a second run gave other bits", name)
	}

	// out_proj folded in too.
	od := D / 2
	ow := rnd(r, od*D, -0.2, 0.2)
	oo := fo
	oo.V.FoldOut = true
	if w16 {
		oo.OW16 = db.bf16(ow)
	} else {
		oo.OW = db.in(ow)
	}
	np := oo.OutParts()
	op := db.out(np * od) // NaN: every part must be written
	oo.OD, oo.OP = od, op.Ptr()
	if err := oo.Folds(d); err != nil {
		t.Fatalf("%s with out_proj: %v", name, err)
	}
	y3, h3 := run(&oo)
	if !slices.Equal(f32bits(y3), f32bits(gotY)) || !slices.Equal(f32bits(h3), f32bits(gotH)) {
		t.Errorf("%s: folding out_proj in changed Y or H", name)
	}
	parts := db.get(op, np*od)
	wantO := hostDot(od, D, gotY, ow, w16)
	report(t, "step scan, out_proj's parts", fmt.Sprintf("%s OD%d (%d parts)", name, od, np), relErr(sumParts(parts, np, od), wantO), 1e-5)
	run(&oo)
	if !slices.Equal(f32bits(db.get(op, np*od)), f32bits(parts)) {
		t.Errorf("%s: a second run gave other parts", name)
	}
}

// hostDot is y[n] = Σ_k x[k]·w[n·K+k] in float64 for N rows, from
// bfloat16-rounded x and w with b16 (bf16Dot).
func hostDot(N, K int, x, w []float32, b16 bool) []float32 {
	if b16 {
		return bf16Dot(N, K, x, w)
	}
	y := make([]float32, N)
	for n := range N {
		var s float64
		for k := range K {
			s += float64(x[k]) * float64(w[n*K+k])
		}
		y[n] = float32(s)
	}
	return y
}

// sumParts adds np rows of n in row order, as step_gemv_e adds out_proj's
// parts: ((0 + p0) + p1) + ….
func sumParts(parts []float32, np, n int) []float32 {
	s := make([]float32, n)
	for p := range np {
		for i := range n {
			s[i] += parts[p*n+i]
		}
	}
	return s
}

// TestStepFoldChecks: what the fold refuses, without a GPU, and where
// its inputs lie in x_proj's outputs.
func TestStepFoldChecks(t *testing.T) {
	d := &Device{&cuda.Device{Major: 9}}
	fold := StepVariant{MaxRows: 1, Prefetch: true, Early: true, Fold: true}
	if fold.String() != "rows≤1+prefetch+early+fold" {
		t.Errorf("variant %q", fold)
	}
	if err := (StepVariant{MaxRows: 1, Prefetch: true, Fold: true}).checkAny(1); err == nil {
		t.Error("Fold without Early accepted")
	}
	if err := (StepVariant{MaxRows: 1, Prefetch: true, Early: true, FoldOut: true}).checkAny(1); err == nil {
		t.Error("FoldOut without Fold accepted")
	}
	if v := (StepVariant{MaxRows: 1, Prefetch: true, Early: true, Fold: true, FoldOut: true}); v.String() != "rows≤1+prefetch+early+fold+out" {
		t.Errorf("variant %q", v)
	}
	base := StepScan{B: 1, D: 1536, N: 16, R: 48, XW: 256, XS: 80, XOut: 4096, V: fold}
	for _, c := range []struct {
		name string
		edit func(c *StepScan, d *Device)
		want string
	}{
		{"both weights", func(c *StepScan, _ *Device) { c.XW16 = 512 }, "one of XW and XW16"},
		{"no Fold", func(c *StepScan, _ *Device) { c.V.Fold = false }, "not the early one-row scan"},
		{"R 65", func(c *StepScan, _ *Device) { c.R = 65 }, "not the early one-row scan"},
		{"two rows", func(c *StepScan, _ *Device) { c.B = 2 }, "not the early one-row scan"},
		{"sm_80", func(_ *StepScan, d *Device) { d.Major = 8 }, "need sm_90"},
		{"D 96", func(c *StepScan, _ *Device) { c.D = 96 }, "not a multiple of 64"},
		{"XS 129", func(c *StepScan, _ *Device) { c.XS = 129 }, "1 to 128"},
		{"misaligned", func(c *StepScan, _ *Device) { c.XW = 264 }, "not 16-byte aligned"},
		{"no XOut", func(c *StepScan, _ *Device) { c.XOut = 0 }, "XOut required"},
		{"too wide", func(c *StepScan, _ *Device) { c.D, c.XS = 1<<14, 128 }, "shared memory"},
	} {
		sc, dd := base, &Device{&cuda.Device{Major: 9}}
		c.edit(&sc, dd)
		if err := sc.Folds(dd); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want an error containing %q", c.name, err, c.want)
		}
	}
	if err := base.Folds(d); err != nil {
		t.Errorf("the mamba-130m shape: %v", err)
	}
	// 80 rows of 192 bfloat16 weights (+16 bytes) and the slice of u,
	// the parts and sums.
	b16 := base
	b16.XW, b16.XW16 = 0, 512
	if got, want := b16.foldShared(), 80*(192*2+16)+4*(192+160); got != want {
		t.Errorf("shared memory %d, want %d", got, want)
	}
	for _, c := range []struct {
		p    cuda.DevPtr
		want int32
	}{{4096, 0}, {4096 + 4*48, 48}, {4096 + 4*79, 79}, {4096 + 4*80, -1}, {4092, -1}, {0, -1}, {4098, -1}} {
		if got := base.foldOffset(c.p); got != c.want {
			t.Errorf("foldOffset(%d) = %d, want %d", c.p, got, c.want)
		}
	}
	// out_proj folded in: what it refuses; its parts (a cluster's: 1536
	// channels are 24), and its shared memory (768 rows of 8 weights,
	// the block's 8 outputs, the 768 parts).
	out := base
	out.V.FoldOut = true
	out.OW, out.OD, out.OP = 8192, 768, 1<<20
	if err := out.Folds(d); err != nil {
		t.Errorf("the mamba-130m shape with out_proj: %v", err)
	}
	if out.OutParts() != 24 {
		t.Errorf("%d parts, want 24", out.OutParts())
	}
	if got, want := out.foldShared(), base.foldShared()+768*8*4+4*(8+768); got != want {
		t.Errorf("shared memory with out_proj %d, want %d", got, want)
	}
	for _, c := range []struct {
		name string
		edit func(c *StepScan)
		want string
	}{
		{"no FoldOut", func(c *StepScan) { c.V.FoldOut = false }, "without FoldOut"},
		{"both weights", func(c *StepScan) { c.OW16 = 512 }, "one of OW and OW16"},
		{"bf16 out, fp32 x_proj", func(c *StepScan) { c.OW, c.OW16 = 0, 512 }, "precision of x_proj"},
		{"OD 0", func(c *StepScan) { c.OD = 0 }, "multiple of 8"},
		{"OD 100", func(c *StepScan) { c.OD = 100 }, "multiple of 8"},
		{"misaligned", func(c *StepScan) { c.OW = 8200 }, "not 16-byte aligned"},
		{"no OP", func(c *StepScan) { c.OP = 0 }, "OP required"},
	} {
		sc := out
		c.edit(&sc)
		if err := sc.Folds(d); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("out_proj, %s: %v; want an error containing %q", c.name, err, c.want)
		}
	}
	// Run refuses a fold the shape does not take before loading a kernel.
	bad := base
	bad.D = 96
	bad.U, bad.ALog, bad.Bm, bad.Cm, bad.H, bad.Y, bad.IO, bad.DtLow, bad.DtW = 1, 1, 1, 1, 1, 1, 1, 1, 1
	if err := bad.Run(d, nil); err == nil || !strings.Contains(err.Error(), "x_proj folded in") {
		t.Errorf("Run of a fold the shape does not take: %v", err)
	}
}

// TestStepGEMVParts: the early one-row product reading out_proj's parts
// (StepGEMV.Parts): the residual it writes to XSum is x + the parts added
// in row order, bit for bit, and its product (normalized, with float32
// and bfloat16 weights; stored, and as the head's logits and argmax) is
// that of the summed input, against the host.
func TestStepGEMVParts(t *testing.T) {
	d := openOrSkip(t)
	for _, v := range stepVariants {
		if !v.Early {
			continue
		}
		for i, c := range []struct{ K, N, np int }{{64, 40, 2}, {768, 3072, 24}, {1536, 96, 5}} {
			for _, w16 := range []bool{false, true} {
				testStepGEMVParts(t, d, v, i, c.K, c.N, c.np, w16)
			}
		}
	}
}

func testStepGEMVParts(t *testing.T, d *Device, v StepVariant, seed, K, N, np int, w16 bool) {
	name := fmt.Sprintf("%v K%d N%d %d parts bf16 %v", v, K, N, np, w16)
	r := rand.New(rand.NewPCG(uint64(seed), 23))
	x, parts, nw := rnd(r, K, -2, 2), rnd(r, np*K, -0.5, 0.5), rnd(r, K, 0.5, 1.5)
	w := rnd(r, N*K, -0.3, 0.3)
	sum := sumParts(parts, np, K)
	xs := make([]float32, K)
	for k := range K {
		xs[k] = x[k] + sum[k]
	}
	const eps = 1e-5
	xn, rstd := make([]float32, K), make([]float32, 1)
	kernels.RMSNormForward(xn, rstd, xs, nw, 1, K, eps)
	want := make([]float32, N)
	if w16 {
		want = bf16Dot(N, K, xn, w)
	} else {
		kernels.MatMul(false, true, 1, N, K, xn, w, 0, want)
	}
	db := newDevBufs(t, d)
	out, xsum := db.out(N), db.out(K)
	g := &StepGEMV{B: 1, N: N, K: K, X: db.in(x), LDX: K, NormW: db.in(nw), Eps: eps, Out: out.Ptr(), LDO: N, Epi: EpiStore,
		Parts: db.in(parts), NParts: np, XSum: xsum.Ptr(), V: v}
	if w16 {
		g.W16 = db.bf16(w)
	} else {
		g.W = db.in(w)
	}
	if err := g.Run(d, variantStream(t, d, v)); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	report(t, "step gemv with parts", name, relErr(db.get(out, N), want), 1e-5)
	if got := db.get(xsum, K); !slices.Equal(f32bits(got), f32bits(xs)) {
		t.Errorf("%s: the residual written is not x + the parts in row order (rel err %.3g)", name, relErr(got, xs))
	}
	// The head: the argmax of the summed input's logits, no XSum.
	io := db.ints(stepIO(1, nil, N))
	keys, err := d.Alloc(8)
	if err != nil {
		t.Fatal(err)
	}
	db.bufs = append(db.bufs, keys)
	if err := keys.Fill32(0); err != nil {
		t.Fatal(err)
	}
	logits := db.out(N)
	h := *g
	h.Out, h.Epi, h.IO, h.Argmax, h.XSum = logits.Ptr(), EpiArgmax, io, keys.Ptr(), 0
	if err := h.Run(d, variantStream(t, d, v)); err != nil {
		t.Fatalf("%s head: %v", name, err)
	}
	lg := db.get(logits, N)
	report(t, "step head with parts", name, relErr(lg, want), 1e-5)
	raw := make([]byte, 8)
	if err := keys.CopyToBytes(raw); err != nil {
		t.Fatal(err)
	}
	if got, best := ArgmaxID(binary.LittleEndian.Uint64(raw)), backbone.Sample(lg, backbone.Sampling{}, nil); got != best {
		t.Errorf("%s: device argmax %d, host %d", name, got, best)
	}
}
