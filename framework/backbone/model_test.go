package backbone

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// testModel is a small random model with a non-trivial init (dt bias,
// A_log as in state-spaces) and perturbed norms so every path matters.
func testModel(t *testing.T, seed uint64, nonSelective ...string) *Model {
	t.Helper()
	return testModelLayers(t, seed, 2, nonSelective...)
}

// testModelLayers is testModel with nL blocks.
func testModelLayers(t *testing.T, seed uint64, nL int, nonSelective ...string) *Model {
	t.Helper()
	c := NewConfig(29, 16, nL) // vocab padded to 32
	c.StateSize = 4
	for _, v := range nonSelective {
		if v == "complex" { // the tests' shorthands for ComplexA and a random A
			c.ComplexA = true
		} else if v == "randomA" {
			c.AInit = "random"
		} else {
			c.NonSelective = append(c.NonSelective, v)
		}
	}
	m, err := New(c, seed)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, 1))
	for i := range m.Params.Norm {
		m.Params.Norm[i] += 0.2 * float32(r.NormFloat64())
	}
	// Larger embeddings than the 0.02 init, so the test signal is not tiny.
	for i := range m.Params.Embed {
		m.Params.Embed[i] *= 20
	}
	return m
}

// variants are the selection ablations every behavioural test runs on:
// Mamba (S6), one non-selective parameter at a time, all three (an LTI SSM
// with real A, S4D-Real), and complex A, B, C and states (S6 complex, LTI
// complex: S4D-Lin, and a mix); "complex" sets Config.ComplexA.
var variants = [][]string{nil, {"delta"}, {"B"}, {"C"}, {"delta", "B", "C"},
	{"complex"}, {"complex", "delta", "B", "C"}, {"complex", "B"}, {"randomA"}, {"complex", "randomA"}}

func variantName(v []string) string {
	if len(v) == 0 {
		return "S6"
	}
	return strings.Join(v, ",")
}

// forVariants runs f once per variant.
func forVariants(t *testing.T, f func(t *testing.T, v []string)) {
	for _, v := range variants {
		t.Run(variantName(v), func(t *testing.T) { f(t, v) })
	}
}

func randomBatch(r *rand.Rand, B, L, V int) *Batch {
	b := &Batch{B: B, L: L, Inputs: make([]int32, B*L), Targets: make([]int32, B*L)}
	for i := range b.Inputs {
		b.Inputs[i] = int32(r.IntN(V))
		b.Targets[i] = int32(r.IntN(V))
	}
	return b
}

func maxRelDiff(a, b []float32) float64 {
	var d, s float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
		s = math.Max(s, math.Abs(float64(b[i])))
	}
	return d / math.Max(s, 1e-30)
}

func TestStepEqualsForward(t *testing.T) {
	forVariants(t, func(t *testing.T, v []string) {
		m := testModel(t, 1, v...)
		V := m.Config.VocabSize
		r := rand.New(rand.NewPCG(2, 2))
		B, L := 2, 70 // crosses a scan chunk boundary
		b := randomBatch(r, B, L, V)
		if _, err := m.Forward(b, nil); err != nil {
			t.Fatal(err)
		}
		full := slices.Clone(m.Logits())
		st := m.NewState(B)
		logits := make([]float32, B*V)
		for tt := 0; tt < L; tt++ {
			ids := []int32{b.Inputs[tt], b.Inputs[L+tt]}
			if err := m.Step(ids, st, logits); err != nil {
				t.Fatal(err)
			}
			for bi := 0; bi < B; bi++ {
				want := full[(bi*L+tt)*V : (bi*L+tt+1)*V]
				if e := maxRelDiff(logits[bi*V:(bi+1)*V], want); e > 1e-5 {
					t.Fatalf("position %d row %d: Step logits differ from Forward by %.2e", tt, bi, e)
				}
			}
		}
	})
}

func TestForwardInChunksEqualsWhole(t *testing.T) {
	forVariants(t, func(t *testing.T, v []string) {
		m := testModel(t, 3, v...)
		V := m.Config.VocabSize
		r := rand.New(rand.NewPCG(4, 4))
		B, L := 2, 100
		b := randomBatch(r, B, L, V)
		if _, err := m.Forward(b, nil); err != nil {
			t.Fatal(err)
		}
		full := slices.Clone(m.Logits())
		st := m.NewState(B)
		for _, cut := range [][2]int{{0, 1}, {1, 38}, {38, 100}} {
			n := cut[1] - cut[0]
			cb := &Batch{B: B, L: n}
			for bi := 0; bi < B; bi++ {
				cb.Inputs = append(cb.Inputs, b.Inputs[bi*L+cut[0]:bi*L+cut[1]]...)
			}
			if _, err := m.Forward(cb, st); err != nil {
				t.Fatal(err)
			}
			for bi := 0; bi < B; bi++ {
				got := m.Logits()[bi*n*V : (bi+1)*n*V]
				want := full[(bi*L+cut[0])*V : (bi*L+cut[1])*V]
				if e := maxRelDiff(got, want); e > 1e-5 {
					t.Fatalf("chunk %v row %d: logits differ from the whole sequence by %.2e", cut, bi, e)
				}
			}
		}
	})
}

// TestResetEqualsSeparateSequences packs two documents in one row with a
// reset flag at the second and checks logits, loss and gradients against
// the two documents run as separate rows.
func TestResetEqualsSeparateSequences(t *testing.T) {
	forVariants(t, func(t *testing.T, v []string) {
		m := testModel(t, 5, v...)
		V := m.Config.VocabSize
		r := rand.New(rand.NewPCG(6, 6))
		const L1, L2 = 23, 30
		sep := randomBatch(r, 2, L2, V)
		for i := L1; i < L2; i++ { // row 0 holds a document of length L1
			sep.Targets[i] = -1
		}
		packed := &Batch{B: 1, L: L1 + L2, Reset: make([]bool, L1+L2)}
		packed.Inputs = append(slices.Clone(sep.Inputs[:L1]), sep.Inputs[L2:]...)
		packed.Targets = append(slices.Clone(sep.Targets[:L1]), sep.Targets[L2:]...)
		packed.Reset[L1] = true

		lossSep, err := m.Forward(sep, nil)
		if err != nil {
			t.Fatal(err)
		}
		logitsSep := slices.Clone(m.Logits())
		if _, err := m.Backward(); err != nil {
			t.Fatal(err)
		}
		gradSep := slices.Clone(m.Grads.Data)
		m.ZeroGrad()
		lossPacked, err := m.Forward(packed, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Backward(); err != nil {
			t.Fatal(err)
		}
		if math.Abs(lossSep-lossPacked) > 1e-6*lossSep {
			t.Errorf("loss packed %.8f, separate %.8f", lossPacked, lossSep)
		}
		if e := maxRelDiff(m.Logits()[:L1*V], logitsSep[:L1*V]); e > 1e-5 {
			t.Errorf("first document's logits differ by %.2e", e)
		}
		if e := maxRelDiff(m.Logits()[L1*V:], logitsSep[L2*V:]); e > 1e-5 {
			t.Errorf("second document's logits differ by %.2e", e)
		}
		if e := maxRelDiff(m.Grads.Data, gradSep); e > 1e-4 {
			t.Errorf("gradients differ by %.2e", e)
		}
	})
}

// TestStateGradientFiniteDifferences checks the gradient of the loss w.r.t.
// the initial conv and SSM states against central differences.
func TestStateGradientFiniteDifferences(t *testing.T) {
	forVariants(t, func(t *testing.T, v []string) {
		m := testModel(t, 7, v...)
		V := m.Config.VocabSize
		r := rand.New(rand.NewPCG(8, 8))
		B, L := 2, 9
		b := randomBatch(r, B, L, V)
		st0 := m.NewState(B)
		for i := range st0.Conv {
			st0.Conv[i] = float32(r.NormFloat64())
		}
		for i := range st0.SSM {
			st0.SSM[i] = float32(r.NormFloat64())
		}
		loss := func(s *State) float64 {
			c := &State{B: s.B, Conv: slices.Clone(s.Conv), SSM: slices.Clone(s.SSM)}
			l, err := m.Forward(b, c)
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
		loss(st0)
		dst, err := m.Backward()
		if err != nil {
			t.Fatal(err)
		}
		const eps = 1e-2
		for _, part := range []struct {
			name    string
			x, grad []float32
		}{{"conv state", st0.Conv, dst.Conv}, {"ssm state", st0.SSM, dst.SSM}} {
			num := make([]float32, len(part.x))
			for i := range part.x {
				x0 := part.x[i]
				part.x[i] = x0 + eps
				lp := loss(st0)
				part.x[i] = x0 - eps
				lm := loss(st0)
				part.x[i] = x0
				num[i] = float32((lp - lm) / (2 * eps))
			}
			if e := maxRelDiff(part.grad, num); e > 2e-2 {
				t.Errorf("d loss / d %s: max error %.2e relative to the largest gradient", part.name, e)
			}
		}
	})
}

func TestAdamWDeterministic(t *testing.T) {
	run := func() float64 {
		m := testModel(t, 9)
		opt := NewAdamW(m, AdamWConfig{LR: 1e-2, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1})
		r := rand.New(rand.NewPCG(10, 10))
		var loss float64
		for range 5 {
			b := randomBatch(r, 3, 40, m.Config.VocabSize)
			var err error
			if loss, err = m.Forward(b, nil); err != nil {
				t.Fatal(err)
			}
			m.ZeroGrad()
			if _, err := m.Backward(); err != nil {
				t.Fatal(err)
			}
			opt.Step(1e-2)
		}
		return loss
	}
	a, b := run(), run()
	if math.Float64bits(a) != math.Float64bits(b) {
		t.Fatalf("two runs with the same seed: loss %v and %v after 5 AdamW steps", a, b)
	}
}

func TestTrainingReducesLoss(t *testing.T) {
	m := testModel(t, 11)
	opt := NewAdamW(m, AdamWConfig{LR: 1e-2, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1})
	// A repeating pattern is easy to learn.
	b := &Batch{B: 2, L: 48}
	for i := 0; i < 96; i++ {
		b.Inputs = append(b.Inputs, int32(i%5))
		b.Targets = append(b.Targets, int32((i+1)%5))
	}
	first := 0.0
	var last float64
	for step := 0; step < 30; step++ {
		l, err := m.Forward(b, nil)
		if err != nil {
			t.Fatal(err)
		}
		if step == 0 {
			first = l
		}
		last = l
		m.ZeroGrad()
		if _, err := m.Backward(); err != nil {
			t.Fatal(err)
		}
		opt.Step(1e-2)
	}
	if !(last < first/4) {
		t.Fatalf("loss went from %.3f to %.3f in 30 steps on a periodic sequence", first, last)
	}
}

func TestGenerateStaysInVocab(t *testing.T) {
	m := testModel(t, 12) // vocabulary 29 padded to 32
	for i := range m.Params.Embed[29*16:] {
		m.Params.Embed[29*16+i] = 50 // make the padding rows the likeliest
	}
	for _, s := range []Sampling{{Vocab: 29}, {Temperature: 1, Vocab: 29, Seed: 3}, {Temperature: 2, TopK: 5, Vocab: 29}} {
		out, err := m.Generate([]int32{1, 2, 3}, 40, s, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range out {
			if id >= 29 {
				t.Fatalf("%+v produced id %d, outside the vocabulary of 29", s, id)
			}
		}
	}
}

func TestGenerateStopsAtStopToken(t *testing.T) {
	m := testModel(t, 13)
	out, err := m.Generate([]int32{1, 2}, 50, Sampling{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	stop := out[4] // the greedy path's third new token
	out2, err := m.Generate([]int32{1, 2}, 50, Sampling{Stop: []int32{stop}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if first := slices.Index(out[2:], stop) + 2; len(out2) != first+1 || !slices.Equal(out2, out[:first+1]) {
		t.Fatalf("with stop %d: %v, want %v", stop, out2, out[:first+1])
	}
}

// lastLogits is a Stepper that keeps the logits of its last Step.
type lastLogits struct {
	Stepper
	logits []float32
}

func (s *lastLogits) Step(ids []int32) error {
	if err := s.Stepper.Step(ids); err != nil {
		return err
	}
	return s.Stepper.Logits(s.logits)
}

// TestGenerateResetsAfterDocEnd checks that the token after an
// end-of-document token is fed from a zero state, as training feeds a
// document's first token: after a prompt that ends a document and starts
// another, the logits are those of the new document alone, and differ
// without DocEnds (the state would carry over).
func TestGenerateResetsAfterDocEnd(t *testing.T) {
	m := testModel(t, 14)
	const end = 5
	V := m.Config.VocabSize
	logitsAfter := func(prompt []int32, s Sampling) []float32 {
		st := &lastLogits{Stepper: m.NewStepper(1), logits: make([]float32, V)}
		if _, err := GenerateWith(st, V, prompt, 1, s, nil); err != nil {
			t.Fatal(err)
		}
		return st.logits
	}
	s := Sampling{DocEnds: []int32{end}}
	alone := logitsAfter([]int32{7, 3}, s)
	prompt := []int32{1, 2, 9, end, 7, 3}
	if d := maxRelDiff(logitsAfter(prompt, s), alone); d > 1e-6 {
		t.Errorf("after a document end the logits differ from the new document's own by %.2e", d)
	}
	if d := maxRelDiff(logitsAfter(prompt, Sampling{}), alone); d < 1e-4 {
		t.Errorf("without DocEnds the logits differ by only %.2e: the test cannot tell a reset", d)
	}
}

// TestParamGradientsFiniteDifferences checks the gradient of every
// parameter tensor of every variant along a random direction against
// central differences of the loss (the Hugging Face parity test covers S6
// exactly; this covers the variants' own parameters and row layouts).
func TestParamGradientsFiniteDifferences(t *testing.T) {
	forVariants(t, func(t *testing.T, v []string) {
		m := testModel(t, 17, v...)
		r := rand.New(rand.NewPCG(18, 18))
		b := randomBatch(r, 2, 12, m.Config.VocabSize)
		b.Reset = make([]bool, 24)
		b.Reset[7] = true
		loss := func() float64 {
			l, err := m.Forward(b, nil)
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
		loss()
		m.ZeroGrad()
		if _, err := m.Backward(); err != nil {
			t.Fatal(err)
		}
		grads := map[string][]float32{}
		for _, g := range m.Grads.Tensors(&m.Config) {
			grads[g.Name] = g.Data
		}
		const eps = 1e-2
		for _, p := range m.Params.Tensors(&m.Config) {
			dir := make([]float32, len(p.Data))
			var want float64
			for i := range dir {
				dir[i] = float32(r.NormFloat64())
				want += float64(dir[i]) * float64(grads[p.Name][i])
			}
			orig := slices.Clone(p.Data)
			for i := range p.Data {
				p.Data[i] = orig[i] + eps*dir[i]
			}
			lp := loss()
			for i := range p.Data {
				p.Data[i] = orig[i] - eps*dir[i]
			}
			lm := loss()
			copy(p.Data, orig)
			got := (lp - lm) / (2 * eps)
			if math.Abs(got-want) > 2e-2*math.Abs(want)+2e-4 {
				t.Errorf("%s: directional derivative %.6g, finite differences %.6g", p.Name, want, got)
			}
		}
	})
}

func TestVariantSaveLoad(t *testing.T) {
	m := testModel(t, 19, "delta", "B", "C")
	dir := t.TempDir()
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Config.NonSelective, m.Config.NonSelective) || !slices.Equal(got.Params.Data, m.Params.Data) {
		t.Fatal("a non-selective model changed in a save/load round trip")
	}
	var names []string
	for _, tn := range got.Params.Tensors(&got.Config) {
		names = append(names, tn.Name)
	}
	for _, want := range []string{"backbone.layers.0.mixer.B", "backbone.layers.1.mixer.C"} {
		if !slices.Contains(names, want) {
			t.Errorf("loaded model lacks %s", want)
		}
	}
	if slices.Contains(names, "backbone.layers.0.mixer.dt_proj.weight") {
		t.Error("a non-selective Δ model has a dt_proj.weight")
	}
	if _, err := New(Config{VocabSize: 8, HiddenSize: 4, StateSize: 2, NumHiddenLayers: 1, ConvKernel: 2, Expand: 1, LayerNormEpsilon: 1e-5, NonSelective: []string{"A"}}, 1); err == nil {
		t.Error("nonselective A accepted")
	}
}

// TestCheckBatch: the activation count CheckBatch bounds is what newActs
// allocates, with recompute and without (so the bound cannot drift from
// the buffers), and a batch over the bound is refused.
func TestCheckBatch(t *testing.T) {
	for _, complexA := range []bool{false, true} {
		c := NewConfig(20, 16, 2)
		c.ComplexA = complexA
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		for _, recompute := range []bool{false, true} {
			for _, bl := range [][2]int{{1, 1}, {2, 63}, {3, 64}, {2, 65}, {4, 200}} {
				a := newActs(&c, bl[0], bl[1], recompute)
				n := 0
				for _, s := range [][]float32{a.resid, a.rstd, a.xn, a.xin, a.z, a.conv, a.u, a.dtLow, a.bm, a.cm, a.dtRaw, a.y, a.saved, a.a, a.rstdF, a.xnF, a.logits} {
					n += len(s)
				}
				if got := c.actsCount(bl[0], bl[1], recompute); got != float64(n) {
					t.Errorf("complex=%v recompute=%v B×L=%v: actsCount %v, newActs allocates %d", complexA, recompute, bl, got, n)
				}
			}
		}
		// A batch that fits the bound only with recompute (2 layers).
		big := [2]int{1 << 12, 1 << 12}
		if full, one := c.actsCount(big[0], big[1], false), c.actsCount(big[0], big[1], true); !(one < maxActs && full > maxActs) {
			t.Fatalf("complex=%v: the test batch keeps %.3g activations, %.3g with recompute: want the bound between", complexA, full, one)
		}
		if err := c.CheckBatch(big[0], big[1]); err == nil || !strings.Contains(err.Error(), "or recompute") {
			t.Errorf("without recompute: %v", err)
		}
		if err := c.CheckBatchWith(big[0], big[1], true); err != nil {
			t.Errorf("with recompute: %v", err)
		}
		if err := c.CheckBatch(8, 256); err != nil {
			t.Errorf("a usual batch: %v", err)
		}
		if err := c.CheckBatch(1e9, 32); err == nil || !strings.Contains(err.Error(), "a batch of 1000000000×32 tokens") {
			t.Errorf("batch 10^9: %v", err)
		}
	}
}
