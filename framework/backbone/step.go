package backbone

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"github.com/mambakit/mambakit/framework/kernels"
)

// stepBufs are the per-token buffers of Step, sized for B rows; their size
// does not grow with the number of tokens generated.
type stepBufs struct {
	B                         int
	x, xn, rstd               []float32 // (B, D), (B, D), (B)
	xin, z, conv, u, dtRaw, y []float32 // (B, Din)
	dtLow, bm, cm             []float32 // (B, R), (B, N), (B, N)
	convState, ssmState, a    []float32 // (B, Din, K−1), (B, Din, N), (Din, N)
}

// Step advances the recurrent form of the model by one token per row: it
// reads ids (B), updates st (conv and SSM state per layer) and writes the
// logits of the next token to logits (B, V). Memory per token is constant;
// Step over a sequence gives the same logits as Forward over it (tested),
// at either precision. In bf16 its products read a bfloat16 copy of the
// weights (stepMatMul), made by the first Step after NewStepper or an
// AdamW step; after writing Params directly, call NewStepper again.
// Mamba paper Section 3.5 (recurrent mode); state-spaces/mamba Mamba.step.
func (m *Model) Step(ids []int32, st *State, logits []float32) error {
	c := &m.Config
	V, D, Din, N, _, K, nL := c.dims()
	B := len(ids)
	if err := m.checkState(st, B); err != nil {
		return err
	}
	if len(logits) < B*V {
		return fmt.Errorf("backbone: step: logits buffer holds %d values, want B·V = %d", len(logits), B*V)
	}
	for i, id := range ids {
		if id < 0 || int(id) >= V {
			return fmt.Errorf("backbone: step: id %d in row %d is outside the vocabulary [0, %d)", id, i, V)
		}
	}
	s := m.stepBufs(B)
	p := m.Params
	eps := float32(c.LayerNormEpsilon)
	kernels.EmbeddingForward(s.x, p.Embed, ids, V, D)
	for l := 0; l < nL; l++ {
		kernels.RMSNormForward(s.xn, s.rstd, s.x, layer(p.Norm, nL, l), B, D, eps)
		win := layer(p.InProj, nL, l)
		m.stepMatMul(B, Din, D, s.xn, win[:Din*D], 0, s.xin)
		m.stepMatMul(B, Din, D, s.xn, win[Din*D:], 0, s.z)
		cs := layer(st.Conv, nL, l)
		cv := kernels.Conv1d{B: B, L: 1, D: Din, K: K, X: s.xin, W: layer(p.ConvW, nL, l),
			State0: cs, StateT: s.convState, Y: s.conv}
		if c.UseConvBias {
			cv.Bias = layer(p.ConvB, nL, l)
		}
		cv.Forward()
		copy(cs, s.convState)
		kernels.SiLUForward(s.u, s.conv)
		bm, cm, bmI, cmI := m.ssmParams(true, l, B, s.u, s.dtLow, s.bm, s.cm, s.dtRaw)
		for i, v := range layer(p.ALog, nL, l) {
			s.a[i] = -float32(math.Exp(float64(v)))
		}
		hs := layer(st.SSM, nL, l)
		sc := kernels.Scan{B: B, L: 1, D: Din, N: N, U: s.u, Delta: s.dtRaw, DeltaBias: layer(p.DtB, nL, l),
			A: s.a, Bm: bm, Cm: cm, BPerChannel: !c.selective("B"), CPerChannel: !c.selective("C"),
			BImag: bmI, CImag: cmI,
			Dskip: layer(p.Dskip, nL, l), Z: s.z, H0: hs, HT: s.ssmState, Y: s.y}
		if c.ComplexA {
			sc.AImag = layer(p.AImag, nL, l)
		}
		sc.Forward()
		copy(hs, s.ssmState)
		m.stepMatMul(B, D, Din, s.y, layer(p.OutProj, nL, l), 1, s.x)
	}
	kernels.RMSNormForward(s.xn, s.rstd, s.x, p.NormF, B, D, eps)
	m.stepMatMul(B, V, D, s.xn, p.Embed, 0, logits)
	return nil
}

func (m *Model) stepBufs(B int) *stepBufs {
	if m.step != nil && m.step.B == B {
		return m.step
	}
	_, D, Din, N, R, K, _ := m.Config.dims()
	cf := m.Config.cf()
	f := func(n int) []float32 { return make([]float32, n) }
	m.step = &stepBufs{B: B, x: f(B * D), xn: f(B * D), rstd: f(B),
		xin: f(B * Din), z: f(B * Din), conv: f(B * Din), u: f(B * Din), dtRaw: f(B * Din), y: f(B * Din),
		dtLow: f(B * R), bm: f(B * N * cf), cm: f(B * N * cf),
		convState: f(B * Din * (K - 1)), ssmState: f(B * Din * N * cf), a: f(Din * N)}
	return m.step
}

// Sampling chooses how Generate picks each token. Temperature 0 is greedy
// (argmax, ties to the lowest id). Otherwise logits are divided by
// Temperature, then only the TopK most likely tokens (0: all) and the
// smallest set whose probability reaches TopP (0 or 1: all) are kept, and
// one is drawn with a PCG generator seeded with Seed. Vocab > 0 limits the
// choice to ids below it: the padding rows of a vocabulary padded to a
// multiple of 8 are never produced. Generation ends early after any token
// in Stop (an end-of-document token). A token that follows one in DocEnds
// (the end-of-document tokens, stopping or not) is fed from a zero state,
// as training resets the state at every document start: a prompt of one
// end-of-document token starts a new document.
type Sampling struct {
	Temperature float64
	TopK        int
	TopP        float64
	Seed        uint64
	Vocab       int
	Stop        []int32
	DocEnds     []int32
}

// Stepper is the recurrent form of a model on some device, B rows at a
// time: the CPU's (Model.NewStepper) or a GPU's (framework/cudamodel).
// Generate drives either the same way.
type Stepper interface {
	// Reset makes every row start afresh (zero states) at the next Step.
	Reset()
	// SetVocabLimit limits Argmax to ids below v (0 or ≥ the vocabulary:
	// all).
	SetVocabLimit(v int)
	// Step feeds one token per row and computes the logits of the next.
	Step(ids []int32) error
	// Logits copies the logits (B, V) of the last Step to dst.
	Logits(dst []float32) error
	// Argmax writes each row's likeliest next id below the vocabulary
	// limit (ties to the lowest id) to dst.
	Argmax(dst []int32) error
	Close() error
}

// NewStepper returns the CPU Stepper of m for B rows (Step over a zero
// State).
func (m *Model) NewStepper(B int) Stepper {
	m.w16ok = false // the weights may have changed since the last copy
	return &cpuStepper{m: m, st: m.NewState(B), logits: make([]float32, B*m.Config.VocabSize), vlimit: m.Config.VocabSize}
}

type cpuStepper struct {
	m      *Model
	st     *State
	logits []float32 // (B, V) of the last Step
	vlimit int
}

func (s *cpuStepper) Reset() {
	clear(s.st.Conv)
	clear(s.st.SSM)
}

func (s *cpuStepper) SetVocabLimit(v int) {
	if V := s.m.Config.VocabSize; v <= 0 || v > V {
		v = V
	}
	s.vlimit = v
}

func (s *cpuStepper) Step(ids []int32) error { return s.m.Step(ids, s.st, s.logits) }

func (s *cpuStepper) Logits(dst []float32) error {
	if len(dst) < len(s.logits) {
		return fmt.Errorf("backbone: logits: buffer of %d values, want B·V = %d", len(dst), len(s.logits))
	}
	copy(dst, s.logits)
	return nil
}

func (s *cpuStepper) Argmax(dst []int32) error {
	if len(dst) < s.st.B {
		return fmt.Errorf("backbone: argmax: buffer of %d, want %d", len(dst), s.st.B)
	}
	V := s.m.Config.VocabSize
	for b := range s.st.B {
		dst[b] = Sample(s.logits[b*V:b*V+s.vlimit], Sampling{}, nil)
	}
	return nil
}

func (s *cpuStepper) Close() error { return nil }

// Generate is GenerateWith on the CPU Stepper of m.
func (m *Model) Generate(prompt []int32, n int, s Sampling, emit func(int32) error) ([]int32, error) {
	return GenerateWith(m.NewStepper(1), m.Config.VocabSize, prompt, n, s, emit)
}

// GenerateWith feeds the prompt through a one-row Stepper of a model of
// vocabulary V, from a zero state, then produces up to n tokens (fewer
// when one in s.Stop comes), calling emit (if non-nil) with each as it is
// chosen; it returns the prompt followed by the new tokens. Memory is
// constant in the length. Greedy decoding asks the stepper for the argmax
// (on a GPU, 8 bytes back per token); sampling copies the logits and draws
// with Sample, so every device gives the same tokens for the same logits.
func GenerateWith(st Stepper, V int, prompt []int32, n int, s Sampling, emit func(int32) error) ([]int32, error) {
	if len(prompt) == 0 {
		return nil, errors.New("backbone: generate: empty prompt")
	}
	if s.Temperature < 0 || s.TopK < 0 || s.TopP < 0 || s.TopP > 1 || math.IsNaN(s.Temperature) || math.IsNaN(s.TopP) {
		return nil, fmt.Errorf("backbone: generate: bad sampling settings %+v (want temperature ≥ 0, top-k ≥ 0, 0 ≤ top-p ≤ 1)", s)
	}
	st.SetVocabLimit(s.Vocab)
	out := append([]int32(nil), prompt...)
	one := []int32{0}
	// feed steps id, from a zero state at the start and after a document
	// ends (training resets there).
	prev, started := int32(0), false
	feed := func(id int32) error {
		if !started || slices.Contains(s.DocEnds, prev) {
			st.Reset()
		}
		prev, started = id, true
		one[0] = id
		return st.Step(one)
	}
	for _, id := range prompt {
		if err := feed(id); err != nil {
			return nil, err
		}
	}
	rng := rand.New(rand.NewPCG(s.Seed, 0x67656e)) // "gen"
	var logits, choose []float32
	if s.Temperature != 0 {
		logits = make([]float32, V)
		choose = logits
		if s.Vocab > 0 && s.Vocab < V {
			choose = logits[:s.Vocab]
		}
	}
	for i := 0; i < n; i++ {
		var id int32
		if s.Temperature == 0 {
			if err := st.Argmax(one); err != nil {
				return nil, err
			}
			id = one[0]
		} else {
			if err := st.Logits(logits); err != nil {
				return nil, err
			}
			id = Sample(choose, s, rng)
		}
		out = append(out, id)
		if emit != nil {
			if err := emit(id); err != nil {
				return out, err
			}
		}
		if slices.Contains(s.Stop, id) {
			break
		}
		if i+1 < n {
			if err := feed(id); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// Sample picks a token from one row of logits as Generate does: the
// argmax at temperature 0, else a draw from the softmax at the temperature
// restricted to the top-k tokens and then to the smallest set of them
// whose probability reaches top-p. GenerateWith draws through it on every
// device, so all give the same tokens for the same seed.
func Sample(logits []float32, s Sampling, rng *rand.Rand) int32 {
	if s.Temperature == 0 {
		best := 0
		for i, v := range logits {
			if v > logits[best] {
				best = i
			}
		}
		return int32(best)
	}
	type cand struct {
		id int
		p  float64
	}
	cs := make([]cand, len(logits))
	mx := math.Inf(-1)
	for _, v := range logits {
		mx = math.Max(mx, float64(v)/s.Temperature)
	}
	var z float64
	for i, v := range logits {
		e := math.Exp(float64(v)/s.Temperature - mx)
		cs[i] = cand{i, e}
		z += e
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].p > cs[j].p })
	keep := len(cs)
	if s.TopK > 0 && s.TopK < keep {
		keep = s.TopK
	}
	if s.TopP > 0 && s.TopP < 1 {
		var cum float64
		for i := 0; i < keep; i++ {
			cum += cs[i].p / z
			if cum >= s.TopP {
				keep = i + 1
				break
			}
		}
	}
	var total float64
	for _, c := range cs[:keep] {
		total += c.p
	}
	r := rng.Float64() * total
	for _, c := range cs[:keep] {
		r -= c.p
		if r < 0 {
			return int32(c.id)
		}
	}
	return int32(cs[keep-1].id)
}
