package cudamodel

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/cudakernels"
)

// tolStep: the GPU step against backbone.Model.Step, relative L2 error of
// each step's logits (the worst step is reported) and of the final states.
const tolStep = 1e-4

// stepRead runs one step of s and reads its logits and argmax.
func stepRead(t *testing.T, s *Stepper, ids []int32, logits []float32, amax []int32) {
	t.Helper()
	if err := s.Step(ids); err != nil {
		t.Fatal(err)
	}
	if err := s.Logits(logits); err != nil {
		t.Fatal(err)
	}
	if err := s.Argmax(amax); err != nil {
		t.Fatal(err)
	}
}

// hostArgmax is greedy decoding's pick (backbone.Sample at temperature
// 0): the index of the largest of x, the lowest on ties.
func hostArgmax(x []float32) int32 { return backbone.Sample(x, backbone.Sampling{}, nil) }

// stepCompare runs steps tokens through the CPU Step and a GPU Stepper of
// B rows from zero states, the ids of each step from next (given the CPU
// logits of the last step), resetting the rows resetAt says before a
// step; it reports the worst step's logits and the final states, and
// checks the device argmax against the host argmax of the GPU logits.
func stepCompare(t *testing.T, name string, m *backbone.Model, B, steps int, graphs bool, v cudakernels.StepVariant,
	next func(step int, cpu []float32) []int32, resetAt func(step, row int) bool) {
	t.Helper()
	d := openOrSkip(t)
	g, err := New(d, m)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if v.PDL && d.PDLAvailable() != nil {
		t.Skipf("%v: %v", v, d.PDLAvailable())
	}
	gs, err := g.NewStepperWith(B, StepOptions{Graphs: graphs, Variant: v})
	if err != nil {
		t.Fatal(err)
	}
	defer gs.Close()
	V := m.Config.VocabSize
	_, D, Din, N, _, K, nL := dims(&m.Config)
	folded, why := gs.XProjFolded()
	r, nb, nc := xProjRows(&m.Config)
	if v.Fold && !folded && Din%64 == 0 && r+nb+nc > 0 && d.Major >= 9 {
		t.Fatalf("%s: x_proj not folded into the scan step: %v", name, why)
	}
	outFolded, why := gs.OutProjFolded()
	if v.FoldOut && folded && !outFolded && D%8 == 0 {
		t.Fatalf("%s: x_proj folded into the scan step, out_proj not: %v", name, why)
	}
	st := m.NewState(B)
	lc, lg := make([]float32, B*V), make([]float32, B*V)
	am := make([]int32, B)
	worst, badArgmax := 0.0, 0
	for i := 0; i < steps; i++ {
		ids := next(i, lc)
		for b := 0; b < B && resetAt != nil; b++ {
			if resetAt(i, b) {
				gs.ResetRow(b)
				for l := 0; l < nL; l++ {
					clear(st.Conv[(l*B+b)*Din*(K-1) : (l*B+b+1)*Din*(K-1)])
					w := Din * N * cf(&m.Config)
					clear(st.SSM[(l*B+b)*w : (l*B+b+1)*w])
				}
			}
		}
		if err := m.Step(ids, st, lc); err != nil {
			t.Fatal(err)
		}
		stepRead(t, gs, ids, lg, am)
		worst = max(worst, relErr(lg, lc))
		for b := 0; b < B; b++ {
			if am[b] != hostArgmax(lg[b*V:(b+1)*V]) {
				badArgmax++
			}
		}
	}
	on, why := gs.Graphs()
	mode := "plain"
	if graphs {
		mode = "graph"
		if !on {
			t.Errorf("graphs asked for, not used: %v", why)
		}
	}
	shape := fmt.Sprintf("%s B%d %s %v", name, B, mode, v)
	switch {
	case outFolded:
		shape += " (x_proj and out_proj folded)"
	case folded:
		shape += " (x_proj folded)"
	}
	report(t, fmt.Sprintf("step logits (%d steps, worst)", steps), shape, worst, tolStep)
	gst, err := gs.State()
	if err != nil {
		t.Fatal(err)
	}
	report(t, "step conv state", shape, relErr(gst.Conv, st.Conv), tolStep)
	report(t, "step ssm state", shape, relErr(gst.SSM, st.SSM), tolStep)
	if badArgmax > 0 {
		t.Errorf("%s: device argmax differs from the host argmax of the same logits %d times", shape, badArgmax)
	}
}

// earlyVariants are the one-row early forms (cudakernels.StepVariant.Early),
// without and with PDL, and with the L2 prefetch.
var earlyVariants = []cudakernels.StepVariant{
	{MaxRows: 1, Prefetch: true, Early: true},
	{MaxRows: 1, Prefetch: true, PDL: true, Early: true},
	{MaxRows: 1, Prefetch: true, PDL: true, Early: true, L2: true},
}

// foldVariants are the early forms with x_proj folded into the scan step
// (StepVariant.Fold: d_inner a multiple of 64, sm_90), and out_proj too
// (FoldOut).
var foldVariants = []cudakernels.StepVariant{
	{MaxRows: 1, Prefetch: true, Early: true, Fold: true},
	{MaxRows: 1, Prefetch: true, PDL: true, Early: true, Fold: true},
	{MaxRows: 1, Prefetch: true, Early: true, Fold: true, FoldOut: true},
	{MaxRows: 1, Prefetch: true, PDL: true, Early: true, Fold: true, FoldOut: true},
}

type stepConfig struct {
	graphs bool
	v      cudakernels.StepVariant
}

// stepConfigs are the forms of the step tested for B rows: each kernel
// variant with and without a graph (PDL only where the device has it).
func stepConfigs(B int) []stepConfig {
	vs := []cudakernels.StepVariant{{}, {Prefetch: true}, {Prefetch: true, PDL: true}}
	if B == 1 {
		vs = append(vs, cudakernels.StepVariant{MaxRows: 1}, cudakernels.StepVariant{MaxRows: 1, Prefetch: true, PDL: true})
		vs = append(append(vs, earlyVariants...), foldVariants...)
	}
	var cs []stepConfig
	for _, v := range vs {
		if v.PDL && dev != nil && dev.PDLAvailable() != nil {
			continue
		}
		cs = append(cs, stepConfig{false, v}, stepConfig{true, v})
	}
	return cs
}

// TestStepMatchesCPUOnHFFixtures: 64 steps of the GPU step against the CPU
// Step on the Hugging Face fixtures (the prompt, then the CPU's greedy
// choices), with and without a CUDA graph; and the greedy continuation
// equals the fixture's (transformers' generate).
func TestStepMatchesCPUOnHFFixtures(t *testing.T) {
	d := openOrSkip(t)
	for _, name := range []string{"tiny", "small", "odd", "wide"} {
		t.Run(name, func(t *testing.T) {
			m, exp, _ := openHFFixture(t, name)
			p64, err := exp.Int64("generate.prompt")
			if err != nil {
				t.Fatal(err)
			}
			want, err := exp.Int64("generate.output")
			if err != nil {
				t.Fatal(err)
			}
			prompt := make([]int32, len(p64))
			for i, v := range p64 {
				prompt[i] = int32(v)
			}
			for _, c := range stepConfigs(1) {
				graphs, v := c.graphs, c.v
				stepCompare(t, "hf-"+name, m, 1, 64, graphs, v, func(i int, cpu []float32) []int32 {
					if i < len(prompt) {
						return []int32{prompt[i]}
					}
					return []int32{hostArgmax(cpu)}
				}, nil)
				g, err := New(d, m)
				if err != nil {
					t.Fatal(err)
				}
				st, err := g.NewStepperWith(1, StepOptions{Graphs: graphs, Variant: v})
				if err != nil {
					t.Fatal(err)
				}
				got, err := backbone.GenerateWith(st, m.Config.VocabSize, prompt, len(want)-len(prompt), backbone.Sampling{}, nil)
				st.Close()
				g.Close()
				if err != nil {
					t.Fatal(err)
				}
				same := len(got) == len(want)
				for i := 0; same && i < len(want); i++ {
					same = int64(got[i]) == want[i]
				}
				if !same {
					t.Errorf("graphs %v %v: greedy continuation %v, the fixture's %v", graphs, v, got, want)
				} else {
					t.Logf("%-44s graphs %-5v %-24v: %d tokens identical", "generate (greedy) "+name, graphs, v, len(want))
				}
			}
		})
	}
}

// TestStepVariantsMatchCPU: per-channel B and C, LTI, complex A with 3
// rows, a row reset in the middle (a document start), with and without a
// graph.
func TestStepVariantsMatchCPU(t *testing.T) {
	openOrSkip(t)
	for i, v := range []struct {
		name    string
		ns      []string
		complex bool
		N       int
	}{
		{"S6", nil, false, 16},
		{"S6-N33", nil, false, 33},
		{"per-channel-BC", []string{"B", "C"}, false, 16},
		{"LTI", []string{"delta", "B", "C"}, false, 8},
		{"complex", nil, true, 8},
		{"complex-per-channel-B", []string{"B"}, true, 16},
		{"complex-LTI", []string{"delta", "B", "C"}, true, 4},
	} {
		t.Run(v.name, func(t *testing.T) {
			c := backbone.NewConfig(97, 48, 2)
			c.StateSize, c.NonSelective, c.ComplexA = v.N, v.ns, v.complex
			m, err := backbone.New(c, uint64(10+i))
			if err != nil {
				t.Fatal(err)
			}
			for _, sc := range stepConfigs(3) {
				r := rand.New(rand.NewPCG(uint64(i), 9))
				stepCompare(t, v.name, m, 3, 40, sc.graphs, sc.v, func(int, []float32) []int32 {
					return []int32{int32(r.IntN(c.VocabSize)), int32(r.IntN(c.VocabSize)), int32(r.IntN(c.VocabSize))}
				}, func(step, row int) bool { return step == 20 && row == 1 })
			}
			// The one-row early kernels (their own scan and product
			// forms): one row, reset at step 20; with x_proj folded into
			// the scan step on a model of d_inner 128 (a multiple of 64).
			c64 := backbone.NewConfig(97, 64, 2)
			c64.StateSize, c64.NonSelective, c64.ComplexA = v.N, v.ns, v.complex
			m64, err := backbone.New(c64, uint64(20+i))
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range append(slices.Clone(earlyVariants), foldVariants...) {
				if ev.PDL && dev != nil && dev.PDLAvailable() != nil {
					continue
				}
				mm := m
				if ev.Fold {
					mm = m64
				}
				for _, graphs := range []bool{false, true} {
					r := rand.New(rand.NewPCG(uint64(i), 9))
					stepCompare(t, v.name, mm, 1, 40, graphs, ev, func(int, []float32) []int32 {
						return []int32{int32(r.IntN(c.VocabSize))}
					}, func(step, row int) bool { return step == 20 })
				}
			}
		})
	}
}

// TestGenerateMatchesCPU: sampling with temperature, top-k, top-p, a
// vocabulary limit and a stop token gives the CPU's tokens.
func TestGenerateMatchesCPU(t *testing.T) {
	m, g := stepTestModel(t, 5)
	for _, s := range []backbone.Sampling{
		{},
		{Temperature: 0.8, TopK: 20, Seed: 3, Vocab: 90},
		{Temperature: 1.2, TopP: 0.9, Seed: 4},
		{Temperature: 1, Seed: 5, Stop: []int32{7, 8, 9}},
	} {
		want, err := m.Generate([]int32{1, 2, 3}, 50, s, nil)
		if err != nil {
			t.Fatal(err)
		}
		st, err := g.NewStepper(1, true)
		if err != nil {
			t.Fatal(err)
		}
		got, err := backbone.GenerateWith(st, m.Config.VocabSize, []int32{1, 2, 3}, 50, s, nil)
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("sampling %+v: GPU %v, CPU %v", s, got, want)
		}
	}
}

// TestGenerateBatchMatchesCPU: a batch of prompts of different lengths,
// one with a document end inside (that row alone restarts: ResetRow) and
// rows ending at a stop token at different steps, gives the CPU's tokens
// on every row, greedy and sampled: 5 rows (the step kernels) and 21
// (past cudakernels.StepMaxRows: cuBLAS's products, launchRows).
func TestGenerateBatchMatchesCPU(t *testing.T) {
	m, g := stepTestModel(t, 6)
	c := m.Config
	const end = 4
	prompts := [][]int32{{1, 2, 3}, {5}, {7, 9, end, 8, 3, 11}, {2, 2}, {60, 61, 62, 63, 64, 65, 66, 67, 68}}
	for i := range 16 {
		prompts = append(prompts, []int32{int32(10 + i), int32(3 * i % 90), end, int32(i)}[:1+i%4])
	}
	for _, s := range []backbone.Sampling{
		{Vocab: 90, DocEnds: []int32{end}},
		{Temperature: 0.9, TopK: 30, Seed: 3, Vocab: 90, DocEnds: []int32{end}, Stop: []int32{end, 10, 11, 12}},
	} {
		for _, rows := range []int{5, len(prompts)} {
			ps := prompts[:rows]
			want, err := backbone.GenerateBatch(m.NewStepper(rows), c.VocabSize, ps, 40, s, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, graphs := range []bool{false, true} {
				st, err := g.NewStepper(rows, graphs)
				if err != nil {
					t.Fatal(err)
				}
				got, err := backbone.GenerateBatch(st, c.VocabSize, ps, 40, s, nil)
				used, gerr := st.Graphs()
				st.Close()
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%d rows, graphs asked %v: graph %v (%v)", rows, graphs, used, gerr)
				for r := range ps {
					if !slices.Equal(got[r], want[r]) {
						t.Errorf("sampling %+v, %d rows, graphs %v, row %d: GPU %v, CPU %v", s, rows, graphs, r, got[r], want[r])
					}
				}
			}
		}
	}
}

// stepTestModel is a random CPU model (vocabulary 101, d_model 64, 2
// layers) of seed and its GPU copy, closed when the test ends.
func stepTestModel(t *testing.T, seed uint64) (*backbone.Model, *Model) {
	t.Helper()
	return testModels(t, backbone.NewConfig(101, 64, 2), seed)
}
