package backbone

import (
	"fmt"
	"math"

	"github.com/mambakit/mambakit/framework/kernels"
)

// stepBufs are the per-token buffers of Step, sized for B rows; their size
// does not grow with the number of tokens generated.
type stepBufs struct {
	B                         int
	x, xn, rstd               []float32 // (B, D), (B, D), (B)
	xin, z, conv, u, dtRaw, y []float32 // (B, Din)
	xz                        []float32 // (1, 2·Din) when B = 1: xin then z, else nil
	dtLow, bm, cm             []float32 // (B, R), (B, N), (B, N)
	convState, ssmState       []float32 // (B, Din, K−1), (B, Din, N)
}

// Step advances the recurrent form of the model by one token per row: it
// reads ids (B), updates st (conv and SSM state per layer) and writes the
// logits of the next token to logits (B, V). Memory per token is constant;
// Step over a sequence gives the same logits as Forward over it (tested),
// at either precision. It derives A = −exp(A_log) (stepA) and, in bf16,
// a bfloat16 copy of the weights (stepMatMul) at its first call after
// NewStepper or an AdamW step; after writing Params directly, call
// NewStepper again.
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
		if B == 1 {
			// in_proj's two halves in one product: s.xin and s.z are
			// the halves of one row, so the 2·Din weight rows stream
			// as one and the product is split over the threads once.
			m.stepMatMul(1, 2*Din, D, s.xn, win, 0, s.xz)
		} else {
			m.stepMatMul(B, Din, D, s.xn, win[:Din*D], 0, s.xin)
			m.stepMatMul(B, Din, D, s.xn, win[Din*D:], 0, s.z)
		}
		cs := layer(st.Conv, nL, l)
		cv := kernels.Conv1d{B: B, L: 1, D: Din, K: K, X: s.xin, W: layer(p.ConvW, nL, l),
			State0: cs, StateT: s.convState, Y: s.conv, U: s.u}
		if c.UseConvBias {
			cv.Bias = layer(p.ConvB, nL, l)
		}
		cv.Forward()
		copy(cs, s.convState)
		bm, cm, bmI, cmI := m.ssmParams(true, l, B, s.u, s.dtLow, s.bm, s.cm, s.dtRaw)
		hs := layer(st.SSM, nL, l)
		sc := kernels.Scan{B: B, L: 1, D: Din, N: N, U: s.u, Delta: s.dtRaw, DeltaBias: layer(p.DtB, nL, l),
			A: layer(m.stepA(), nL, l), Bm: bm, Cm: cm, BPerChannel: !c.selective("B"), CPerChannel: !c.selective("C"),
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
		convState: f(B * Din * (K - 1)), ssmState: f(B * Din * N * cf)}
	if B == 1 { // in_proj's halves in one row (Step)
		m.step.xz = f(2 * Din)
		m.step.xin, m.step.z = m.step.xz[:Din:Din], m.step.xz[Din:]
	}
	return m.step
}

// Stepper is the recurrent form of a model on some device, B rows at a
// time: the CPU's (Model.NewStepper) or a GPU's (framework/cudamodel).
// Generate drives either the same way.
type Stepper interface {
	// Reset makes every row start afresh (zero states) at the next Step.
	Reset()
	// ResetRow makes row b start afresh at the next Step (a document
	// start in that row alone).
	ResetRow(b int)
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
	// StepAhead is greedy decoding of k steps (1 to MaxAhead): it feeds
	// ids, then k − 1 steps that each feed every row its Argmax of the
	// step before, and writes the k argmaxes of each row step by step
	// (row b of step j at j·B + b) to dst: k calls of Step and Argmax,
	// which a GPU runs without the host between them.
	StepAhead(ids []int32, k int, dst []int32) error
	Close() error
}

// MaxAhead is the most steps a Stepper's StepAhead takes.
const MaxAhead = 16

// NewStepper returns the CPU Stepper of m for B rows (Step over a zero
// State).
func (m *Model) NewStepper(B int) Stepper {
	m.paramsChanged() // the weights may have changed since Step last derived from them
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

func (s *cpuStepper) ResetRow(b int) {
	_, _, Din, N, _, K, nL := s.m.Config.dims()
	conv, ssm := Din*(K-1), Din*N*s.m.Config.cf()
	for l := range nL {
		clear(s.st.Conv[(l*s.st.B+b)*conv:][:conv])
		clear(s.st.SSM[(l*s.st.B+b)*ssm:][:ssm])
	}
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

func (s *cpuStepper) StepAhead(ids []int32, k int, dst []int32) error {
	return stepAhead(s, s.st.B, ids, k, dst)
}

// stepAhead is StepAhead as k calls of Step and Argmax.
func stepAhead(st Stepper, B int, ids []int32, k int, dst []int32) error {
	if k < 1 || k > MaxAhead {
		return fmt.Errorf("backbone: step ahead: %d steps, want 1..%d", k, MaxAhead)
	}
	if len(dst) < k*B {
		return fmt.Errorf("backbone: step ahead: room for %d ids, want k·B = %d", len(dst), k*B)
	}
	for j := range k {
		if err := st.Step(ids); err != nil {
			return err
		}
		ids = dst[j*B : (j+1)*B]
		if err := st.Argmax(ids); err != nil {
			return err
		}
	}
	return nil
}

func (s *cpuStepper) Close() error { return nil }

// paramsChanged marks what Step derives from the parameters as out of
// date: the parameters have changed (AdamW.Step), or may have (a new
// Stepper: a caller may have written them).
func (m *Model) paramsChanged() { m.w16ok, m.aStepOK = false, false }

// stepA returns A = −exp(A_log) of every layer (nL, Din, N), computed
// again only after paramsChanged.
func (m *Model) stepA() []float32 {
	if !m.aStepOK {
		if len(m.aStep) != len(m.Params.ALog) {
			m.aStep = make([]float32, len(m.Params.ALog))
		}
		for i, v := range m.Params.ALog {
			m.aStep[i] = -float32(math.Exp(float64(v)))
		}
		m.aStepOK = true
	}
	return m.aStep
}
