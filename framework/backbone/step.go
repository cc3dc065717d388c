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
// Step over a sequence gives the same logits as Forward over it (tested).
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
		kernels.MatMul(false, true, B, Din, D, s.xn, win[:Din*D], 0, s.xin)
		kernels.MatMul(false, true, B, Din, D, s.xn, win[Din*D:], 0, s.z)
		cs := layer(st.Conv, nL, l)
		cv := kernels.Conv1d{B: B, L: 1, D: Din, K: K, X: s.xin, W: layer(p.ConvW, nL, l),
			State0: cs, StateT: s.convState, Y: s.conv}
		if c.UseConvBias {
			cv.Bias = layer(p.ConvB, nL, l)
		}
		cv.Forward()
		copy(cs, s.convState)
		kernels.SiLUForward(s.u, s.conv)
		bm, cm, bmI, cmI := m.ssmParams(l, B, s.u, s.dtLow, s.bm, s.cm, s.dtRaw)
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
		kernels.MatMul(false, true, B, D, Din, s.y, layer(p.OutProj, nL, l), 1, s.x)
	}
	kernels.RMSNormForward(s.xn, s.rstd, s.x, p.NormF, B, D, eps)
	kernels.MatMul(false, true, B, V, D, s.xn, p.Embed, 0, logits)
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
// in Stop (an end-of-document token).
type Sampling struct {
	Temperature float64
	TopK        int
	TopP        float64
	Seed        uint64
	Vocab       int
	Stop        []int32
}

// Generate feeds the prompt through Step, then produces up to n tokens
// (fewer when one in s.Stop comes), calling emit (if non-nil) with each as
// it is chosen; it returns the prompt followed by the new tokens. Memory is
// constant in the length.
func (m *Model) Generate(prompt []int32, n int, s Sampling, emit func(int32) error) ([]int32, error) {
	if len(prompt) == 0 {
		return nil, errors.New("backbone: generate: empty prompt")
	}
	if s.Temperature < 0 || s.TopK < 0 || s.TopP < 0 || s.TopP > 1 || math.IsNaN(s.Temperature) || math.IsNaN(s.TopP) {
		return nil, fmt.Errorf("backbone: generate: bad sampling settings %+v (want temperature ≥ 0, top-k ≥ 0, 0 ≤ top-p ≤ 1)", s)
	}
	V := m.Config.VocabSize
	st := m.NewState(1)
	logits := make([]float32, V)
	out := append([]int32(nil), prompt...)
	for _, id := range prompt {
		if err := m.Step([]int32{id}, st, logits); err != nil {
			return nil, err
		}
	}
	rng := rand.New(rand.NewPCG(s.Seed, 0x67656e)) // "gen"
	choose := logits
	if s.Vocab > 0 && s.Vocab < V {
		choose = logits[:s.Vocab]
	}
	for i := 0; i < n; i++ {
		id := Sample(choose, s, rng)
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
			if err := m.Step([]int32{id}, st, logits); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// Sample picks a token from one row of logits as Generate does: the
// argmax at temperature 0, else a draw from the softmax at the temperature
// restricted to the top-k tokens and then to the smallest set of them
// whose probability reaches top-p. The GPU generator (cudamodel) draws
// through it too, so both devices give the same tokens for the same seed.
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
