package cudamodel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/cudakernels"
)

// tolBF16Step bounds a bf16 Stepper against the CPU's Step in bf16
// (backbone.Model.Step, Precision bf16), relative L2 errors of each
// step's logits (the worst step is reported) and of the final states.
// Both round the same operands of every product to bfloat16 (the
// weights, xn, u, y and Δ's projection inputs) and sum the exact products
// in float32, in another order; so they differ by float32 rounding,
// except where an activation within that rounding of the CPU's rounds to
// the neighbouring bfloat16 (2⁻⁸ relative, now and then). Such flips
// weigh more here than in the training forward (tolBF16SameRounding):
// the worst of 24 steps is reported, each step's activations go through
// every earlier step's states, and the test models are narrow (d_inner
// 96: one flipped element of y moves out_proj's output by about
// 2⁻⁸/√96 ≈ 4·10⁻⁴). The complex model's one-row step, whose complex
// arithmetic matches the CPU's to float32 rounding only, measured
// 1.55·10⁻³ on an H200 (2026-12-07); every other form under 3.3·10⁻⁴.
const tolBF16Step = 2.5e-3

// bf16StepCompare runs steps steps of random ids through st (a bf16
// Stepper: the cuBLAS path, or one row of the early kernels) and through
// m's CPU Step in bf16 and in fp32, from zero states, resetting row 1
// (row 0 of one row) halfway. It reports the worst
// step's logits and the final states against the CPU's bf16; checks that
// every step's logits are at least minReduced from fp32's (the products
// were rounded); and checks the device argmax: against the host argmax
// of the same GPU logits in every row, and against the CPU's bf16 argmax
// in every row whose top two CPU logits are more than 2·tolBF16Step·‖row‖
// apart (no error within the tolerance can swap them).
func bf16StepCompare(t *testing.T, shape string, m *backbone.Model, st *Stepper, steps int, seed uint64) {
	t.Helper()
	if p := st.Products(); p != backbone.BF16 {
		t.Fatalf("%s: stepper of %d rows runs %s products (%s), want bf16", shape, st.Rows(), p, st.ProductsNote())
	}
	defer func(p backbone.Precision) { m.Precision = p }(m.Precision)
	c := &m.Config
	V, B := c.VocabSize, st.Rows()
	_, _, Din, N, _, K, nL := dims(c)
	s16, s32 := m.NewState(B), m.NewState(B)
	l16, l32, lg := make([]float32, B*V), make([]float32, B*V), make([]float32, B*V)
	am := make([]int32, B)
	r := rand.New(rand.NewPCG(seed, 21))
	worst, least := 0.0, math.Inf(1)
	checked, badCPU, badHost := 0, 0, 0
	ids := make([]int32, B)
	for i := 0; i < steps; i++ {
		for b := range ids {
			ids[b] = int32(r.IntN(V))
		}
		if i == steps/2 {
			rr := min(1, B-1)
			st.ResetRow(rr)
			for _, cs := range []*backbone.State{s16, s32} {
				for l := 0; l < nL; l++ {
					clear(cs.Conv[(l*B+rr)*Din*(K-1) : (l*B+rr+1)*Din*(K-1)])
					w := Din * N * cf(c)
					clear(cs.SSM[(l*B+rr)*w : (l*B+rr+1)*w])
				}
			}
		}
		m.Precision = backbone.BF16
		if err := m.Step(ids, s16, l16); err != nil {
			t.Fatal(err)
		}
		m.Precision = backbone.FP32
		if err := m.Step(ids, s32, l32); err != nil {
			t.Fatal(err)
		}
		stepRead(t, st, ids, lg, am)
		worst = max(worst, relErr(lg, l16))
		least = min(least, relErr(lg, l32))
		for b := 0; b < B; b++ {
			row, cpu := lg[b*V:(b+1)*V], l16[b*V:(b+1)*V]
			if am[b] != hostArgmax(row) {
				badHost++
			}
			top := hostArgmax(cpu)
			second, norm := math.Inf(-1), 0.0
			for k, v := range cpu {
				norm += float64(v) * float64(v)
				if k != int(top) {
					second = max(second, float64(v))
				}
			}
			if float64(cpu[top])-second > 2*tolBF16Step*math.Sqrt(norm) {
				checked++
				if am[b] != top {
					badCPU++
				}
			}
		}
	}
	report(t, fmt.Sprintf("bf16 step logits vs CPU bf16 (%d steps, worst)", steps), shape, worst, tolBF16Step)
	if least < minReduced {
		t.Errorf("%s: a step's logits within %.1e of the CPU's fp32 step: the products were not rounded to bfloat16", shape, least)
	}
	gst, err := st.State()
	if err != nil {
		t.Fatal(err)
	}
	report(t, "bf16 step conv state vs CPU bf16", shape, relErr(gst.Conv, s16.Conv), tolBF16Step)
	report(t, "bf16 step ssm state vs CPU bf16", shape, relErr(gst.SSM, s16.SSM), tolBF16Step)
	t.Logf("%s: logits vs CPU fp32 at least %.2e; argmax checked against the CPU's in %d of %d rows", shape, least, checked, steps*B)
	if badHost > 0 {
		t.Errorf("%s: device argmax differs from the host argmax of the same logits %d times", shape, badHost)
	}
	if badCPU > 0 || checked == 0 {
		t.Errorf("%s: device argmax differs from the CPU bf16 argmax in %d of the %d rows whose margin exceeds the tolerance", shape, badCPU, checked)
	}
}

// TestStepBF16MatchesCPU: a bf16 Stepper against the CPU's bf16 Step:
// the cuBLAS path at its fewest rows (the scan step is step_scan) and
// at enough rows to give step_scan_rows a block for every
// multiprocessor, and one row of each early form (step_gemv_e16 on the
// bfloat16 weights, step_scan_e with Δ's inputs rounded), with and
// without a graph; then S6 with per-channel B and C, and complex A, on
// both paths. A Stepper of 2 to 8 rows, or of one row without the early
// kernels, runs the step kernels in float32 and says so.
func TestStepBF16MatchesCPU(t *testing.T) {
	d := openOrSkip(t)
	c := backbone.NewConfig(101, 64, 2)
	m, g := testModels(t, c, 7)
	if err := g.SetPrecision(backbone.BF16); err != nil {
		t.Fatal(err)
	}
	_, _, Din, _, _, _, _ := dims(&g.Config)
	tiles := (Din + 31) / 32
	rows := 8*((d.SMs+tiles-1)/tiles) + 1 // step_scan_rows: ⌈rows/8⌉·tiles ≥ SMs blocks; not a multiple of 8
	type form struct {
		B    int
		v    cudakernels.StepVariant
		scan string
	}
	forms := []form{{wideFrom(&g.Config), DefaultStepVariant(d, wideFrom(&g.Config)), "step_scan"},
		{rows, DefaultStepVariant(d, rows), "step_scan_rows"}}
	for _, ev := range append(slices.Clone(earlyVariants), foldVariants...) {
		if !ev.PDL || d.PDLAvailable() == nil {
			forms = append(forms, form{1, ev, "step_scan_e"})
		}
	}
	for _, k := range forms {
		for _, graphs := range []bool{false, true} {
			st, err := g.NewStepperWith(k.B, StepOptions{Graphs: graphs, Variant: k.v})
			if err != nil {
				t.Fatal(err)
			}
			if got := st.scanStep(0).Kernel(g.dev); got != k.scan {
				st.Close()
				t.Fatalf("%d rows (%v): the scan step runs %s, the test wants %s", k.B, k.v, got, k.scan)
			}
			bf16StepCompare(t, fmt.Sprintf("S6 B%d %s %v graphs %v", k.B, k.scan, st.Variant(), graphs), m, st, 24, uint64(k.B))
			if on, why := st.Graphs(); graphs && !on {
				t.Errorf("%d rows: graphs asked for, not used: %v", k.B, why)
			}
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i, v := range []struct {
		name    string
		ns      []string
		complex bool
	}{{"per-channel-BC", []string{"B", "C"}, false}, {"complex", nil, true}} {
		cv := backbone.NewConfig(97, 48, 2)
		cv.StateSize, cv.NonSelective, cv.ComplexA = 8, v.ns, v.complex
		mv, gv := testModels(t, cv, uint64(20+i))
		if err := gv.SetPrecision(backbone.BF16); err != nil {
			t.Fatal(err)
		}
		for _, B := range []int{11, 1} {
			sv := DefaultStepVariant(d, B)
			if B == 1 {
				sv = earlyVariants[0]
			}
			st, err := gv.NewStepperWith(B, StepOptions{Graphs: true, Variant: sv})
			if err != nil {
				t.Fatal(err)
			}
			bf16StepCompare(t, fmt.Sprintf("%s B%d %v graph", v.name, B, st.Variant()), mv, st, 24, uint64(30+i))
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, k := range []struct {
		B    int
		v    cudakernels.StepVariant
		want string
	}{
		{3, DefaultStepVariant(d, 3), "bf16 at B = 1 with the early kernels and from B = 9"},
		{1, cudakernels.StepVariant{MaxRows: 1, Prefetch: true}, "bf16 at B = 1 with the early kernels and from B = 9"},
	} {
		st, err := g.NewStepperWith(k.B, StepOptions{Graphs: true, Variant: k.v})
		if err != nil {
			t.Fatal(err)
		}
		if p, note := st.Products(), st.ProductsNote(); p != backbone.FP32 || !strings.Contains(note, "float32 weights") || !strings.Contains(note, k.want) {
			t.Errorf("%d rows (%v) under bf16: products %s, %q; want fp32 in the step kernels, %s", k.B, k.v, p, note, k.want)
		}
		if w := st.WeightBytes(); w != 4*g.lay.total {
			t.Errorf("%d rows (%v) under bf16: %d weight bytes a step, want %d (float32)", k.B, k.v, w, 4*g.lay.total)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
	st, err := g.NewStepper(1, true)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if !st.Variant().Early {
		t.Logf("the default one-row kernels are not the early form (%v: $MAMBAKIT_CUDA_STEP_EARLY or $MAMBAKIT_CUDA_STEP_PREFETCH): their products not checked", st.Variant())
		return
	}
	ly := g.lay
	prod := ly.inProj.n + ly.xProj.n + ly.outProj.n + ly.embed.n
	if p, note, w := st.Products(), st.ProductsNote(), st.WeightBytes(); p != backbone.BF16 || note != "bf16 (step kernels, bfloat16 weights)" || w != 2*prod+4*(ly.total-prod) {
		t.Errorf("1 row under bf16 (default kernels): products %s, %q, %d weight bytes; want bf16 step kernels, %d bytes", p, note, w, 2*prod+4*(ly.total-prod))
	}
}

// TestStepBF16SeesNewParams: a bf16 Stepper (its graph captured) reads
// the parameters' bfloat16 copy, which must follow the parameters: after
// Upload of another model's and after an AdamW step on the device, its
// steps match the CPU's bf16 Step of the new parameters. The cuBLAS path
// (9 rows) and one row of the early kernels (step_gemv_e16).
func TestStepBF16SeesNewParams(t *testing.T) {
	d := openOrSkip(t)
	for _, k := range []struct {
		B     int
		v     cudakernels.StepVariant
		steps int
	}{{9, DefaultStepVariant(d, 9), 6}, {1, cudakernels.StepVariant{MaxRows: 1, Prefetch: true, Early: true}, 12},
		{1, cudakernels.StepVariant{MaxRows: 1, Prefetch: true, PDL: true, Early: true, Fold: true}, 12},
		{1, cudakernels.StepVariant{MaxRows: 1, Prefetch: true, PDL: true, Early: true, Fold: true, FoldOut: true}, 12}} {
		if k.v.PDL && d.PDLAvailable() != nil {
			continue
		}
		t.Run(fmt.Sprintf("B%d-%v", k.B, k.v), func(t *testing.T) {
			testStepBF16SeesNewParams(t, k.B, k.v, k.steps)
		})
	}
}

func testStepBF16SeesNewParams(t *testing.T, B int, v cudakernels.StepVariant, steps int) {
	c := backbone.NewConfig(101, 64, 2)
	m, g := testModels(t, c, 8)
	if err := g.SetPrecision(backbone.BF16); err != nil {
		t.Fatal(err)
	}
	st, err := g.NewStepperWith(B, StepOptions{Graphs: true, Variant: v})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if on, why := st.XProjFolded(); v.Fold && !on {
		t.Fatalf("x_proj not folded into the scan step: %v", why)
	}
	if on, why := st.OutProjFolded(); v.FoldOut && !on {
		t.Fatalf("out_proj not folded into the scan step: %v", why)
	}
	name := fmt.Sprintf("B%d graph", B)
	bf16StepCompare(t, name+", first parameters", m, st, steps, 1)
	if on, why := st.Graphs(); !on {
		t.Fatalf("no graph: %v", why)
	}

	m2, err := backbone.New(c, 9)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Upload(m2); err != nil {
		t.Fatal(err)
	}
	if err := g.Device().Synchronize(); err != nil {
		t.Fatal(err)
	}
	st.Reset()
	bf16StepCompare(t, name+", after Upload", m2, st, steps, 2)

	// A training step on the device (its bf16 forward reads the copy,
	// AdamW changes the parameters after it).
	r := rand.New(rand.NewPCG(3, 3))
	b := &backbone.Batch{B: 2, L: 16, Inputs: make([]int32, 32), Targets: make([]int32, 32)}
	for i := range b.Inputs {
		b.Inputs[i], b.Targets[i] = int32(r.IntN(c.VocabSize)), int32(r.IntN(c.VocabSize))
	}
	forwardBackward(t, g, b)
	if err := g.Step(backbone.AdamWConfig{LR: 0.05, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8}, 0.05); err != nil {
		t.Fatal(err)
	}
	m3, err := backbone.New(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Download(m3); err != nil { // waits for the device
		t.Fatal(err)
	}
	st.Reset()
	bf16StepCompare(t, name+", after an AdamW step", m3, st, steps, 3)
}

// TestWideFrom: the fewest rows of the cuBLAS step (no GPU needed): 9
// while 8 rows' staged input fits in 47 KB, fewer once it does not (8 rows
// of the 130M shape's 1536 channels are 48 KB).
func TestWideFrom(t *testing.T) {
	for _, k := range []struct {
		d, want int
	}{{64, 9}, {768, 8}, {1024, 6}, {2560, 3}} {
		c := backbone.NewConfig(100, k.d, 1)
		if got := wideFrom(&c); got != k.want {
			t.Errorf("d_model %d (d_inner %d): cuBLAS step from %d rows, want %d", k.d, c.IntermediateSize, got, k.want)
		}
		_, D, Din, _, _, _, _ := dims(&c)
		for B := 1; B <= cudakernels.StepMaxRows+1; B++ {
			staged := B > cudakernels.StepMaxRows || 4*B*max(D, Din) > stepStagedMax
			if staged != (B >= wideFrom(&c)) {
				t.Errorf("d_model %d, %d rows: the step kernels' limit and wideFrom disagree", k.d, B)
			}
		}
	}
}
