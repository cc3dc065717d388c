package backbone

import (
	"fmt"
	"math"

	"github.com/mambakit/mambakit/framework/kernels"
)

// Model is a Mamba language model (MambaForCausalLM): embeddings, a stack of
// residual blocks (RMSNorm → mixer → add), a final RMSNorm and the output
// head tied to the embeddings.
type Model struct {
	Config Config
	Params *Params
	Grads  *Params // allocated on the first Backward; Backward adds into it
	// Precision of the matrix products of Forward, Backward and Step
	// ("" is fp32).
	Precision Precision
	// What Step derives from the parameters once rather than every
	// token, and whether it is up to date (paramsChanged clears it:
	// AdamW.Step and NewStepper): w16, the bfloat16 copy of Params.Data
	// that its products read in bf16; aStep, A = −exp(A_log) of every
	// layer (nL, Din, N).
	w16     []uint16
	w16ok   bool
	aStep   []float32
	aStepOK bool

	b16 bf16Ops // what bf16 products convert once (precision.go)

	// recompute (SetRecompute): Forward keeps one block's activations,
	// Backward runs each block's forward again before its backward.
	recompute bool
	acts      *acts     // activations of the last Forward, sized for its (B, L)
	step      *stepBufs // buffers of Step
}

// New returns a model for c with parameters initialized from seed.
func New(c Config, seed uint64) (*Model, error) {
	if err := c.normalize(); err != nil {
		return nil, fmt.Errorf("backbone: %w", err)
	}
	m := &Model{Config: c, Params: NewParams(&c)}
	Init(m.Params, &m.Config, seed)
	return m, nil
}

// Batch is the input of one Forward: B rows of L token ids.
type Batch struct {
	B, L int
	// Inputs (B, L): token ids in [0, vocab_size).
	Inputs []int32
	// Targets (B, L): the id each position must predict, or −1 to ignore
	// the position. Nil: no loss (inference).
	Targets []int32
	// Reset (B, L), optional: true where a new document starts; the conv
	// and SSM states are zeroed there, so packed documents stay independent.
	Reset []bool
}

// State is the recurrent state between chunks of a sequence, per layer:
// the last K−1 inputs of the convolution and the SSM state.
type State struct {
	B    int
	Conv []float32 // (nL, B, Din, K−1)
	SSM  []float32 // (nL, B, Din, N), or (nL, B, Din, 2N) complex: N real parts, then N imaginary
}

// NewState returns a zero state for B rows.
func (m *Model) NewState(B int) *State {
	_, _, Din, N, _, K, nL := m.Config.dims()
	return &State{B: B, Conv: make([]float32, nL*B*Din*(K-1)), SSM: make([]float32, nL*B*Din*N*m.Config.cf())}
}

// Rows is the number of rows the state is for.
func (s *State) Rows() int { return s.B }

// CopyTo copies s to dst, a state of the same shape.
func (s *State) CopyTo(dst *State) error { return dst.CopyFrom(s) }

// CopyFrom copies src, a state of the same shape, to s.
func (s *State) CopyFrom(src *State) error {
	if src.B != s.B || len(src.Conv) != len(s.Conv) || len(src.SSM) != len(s.SSM) {
		return fmt.Errorf("backbone: state of %d rows (conv %d, ssm %d values); the other has %d rows (%d, %d)", s.B, len(s.Conv), len(s.SSM), src.B, len(src.Conv), len(src.SSM))
	}
	copy(s.Conv, src.Conv)
	copy(s.SSM, src.SSM)
	return nil
}

// Free does nothing: a host state is garbage-collected. (A GPU state's
// Free releases device memory; both are train.States.)
func (s *State) Free() error { return nil }

func (m *Model) checkState(s *State, B int) error {
	_, _, Din, N, _, K, nL := m.Config.dims()
	if s.B != B || len(s.Conv) != nL*B*Din*(K-1) || len(s.SSM) != nL*B*Din*N*m.Config.cf() {
		return fmt.Errorf("backbone: state is for %d rows (conv %d, ssm %d values), the batch has %d rows", s.B, len(s.Conv), len(s.SSM), B)
	}
	return nil
}

// acts holds every activation Forward keeps for Backward, in flat buffers
// (M = B·L rows). A block's activations (every per-layer buffer but
// resid) are kept for every layer, or with recompute for one: the slot
// of layer l (slot(l)) is then the same for all, Forward leaves the last
// block's there, and Backward runs each earlier block's forward again
// from its input (resid, kept for every layer) before that block's
// backward. Below, S is the number of slots: nL, or 1 with recompute.
type acts struct {
	B, L         int
	recompute    bool // one slot of block activations (SetRecompute)
	ids, targets []int32
	reset        []bool
	hasTargets   bool
	count        int // targets counted in the loss

	resid     []float32 // (nL+1, M, D): input of each block; [nL] is the output of the last
	rstd      []float32 // (S, M)
	xn        []float32 // (S, M, D): normalized block input
	xin       []float32 // (S, M, Din): in_proj → x
	z         []float32 // (S, M, Din): in_proj → gate
	conv      []float32 // (S, M, Din): conv output, before SiLU
	u         []float32 // (S, M, Din): SiLU(conv), the SSM input
	dtLow     []float32 // (S, M, R)
	bm, cm    []float32 // (S, M, N), or (S, 2, M, N) complex: real parts, then imaginary
	dtRaw     []float32 // (S, M, Din): dt_proj output without the bias
	y         []float32 // (S, M, Din): gated scan output
	saved     []float32 // (S, B·Din·⌈L/64⌉·N): scan states for backward
	a         []float32 // (S, Din, N): A = −exp(A_log)
	rstdF     []float32 // (M)
	xnF       []float32 // (M, D)
	logits    []float32 // (M, V)
	state0    *State    // copy of the state Forward started from
	hasState0 bool      // the last Forward started from a state (else zero)
	dState    *State    // Backward's gradient w.r.t. state0
	g         *gradBufs // Backward's scratch, allocated on first use

	// The scan call of the layer at hand, kept here so that passing it to
	// the kernels' workers allocates nothing per layer.
	scan      kernels.Scan
	scanGrads kernels.ScanGrads
}

// maxActs bounds the activations one batch keeps for Backward, as
// maxParams bounds the parameters: 32 GiB of float32.
const maxActs = 1 << 33

// actsCount is the number of float32 values newActs allocates for a B×L
// batch (with recompute: one slot of block activations), in float64 so
// that absurd sizes cannot overflow.
func (c *Config) actsCount(B, L int, recompute bool) float64 {
	V, D, Din, N, R, _, nL := c.dims()
	f := func(n int) float64 { return float64(n) }
	M, l, Nc := f(B)*f(L), f(slots(nL, recompute)), f(N*c.cf())
	chunks := math.Ceil(f(L) / kernels.ScanChunk)
	return (f(nL)+1)*M*f(D) + l*M + l*M*f(D) + // resid, rstd, xn
		6*l*M*f(Din) + l*M*f(R) + 2*l*M*Nc + // xin, z, conv, u, dtRaw, y; dtLow; bm, cm
		l*f(B)*f(Din)*chunks*Nc + l*f(Din)*f(N) + // saved, a
		M + M*f(D) + M*f(V) // rstdF, xnF, logits
}

// CheckBatch reports whether this package will train on batches of B rows
// of L tokens: at most 2^33 activations kept for Backward (32 GiB of
// float32). A batch size from a hostile trainer.json or a typo in --batch
// gets this error before anything is allocated, not an out-of-memory crash.
func (c Config) CheckBatch(B, L int) error { return c.CheckBatchWith(B, L, false) }

// CheckBatchWith is CheckBatch for a model with recompute on or off
// (SetRecompute): with it, one block's activations count, not nL.
func (c Config) CheckBatchWith(B, L int, recompute bool) error {
	if B < 1 || L < 1 {
		return fmt.Errorf("backbone: batch of %d×%d tokens: want at least 1×1", B, L)
	}
	if n := c.actsCount(B, L, recompute); n > maxActs {
		hint := "lower batch or seq_len"
		if !recompute {
			hint += ", or recompute (--recompute)"
		}
		return fmt.Errorf("backbone: a batch of %d×%d tokens would keep %.3g activations for the backward pass, more than the %d supported (32 GiB of float32); %s", B, L, n, int64(maxActs), hint)
	}
	return nil
}

// slots is the number of layers whose block activations Forward keeps.
func slots(nL int, recompute bool) int {
	if recompute {
		return 1
	}
	return nL
}

// slot is where layer l's block activations live: l, or 0 with
// recompute.
func (a *acts) slot(l int) int {
	if a.recompute {
		return 0
	}
	return l
}

// SetRecompute turns activation recomputation on or off from the next
// Forward: on, Forward keeps each block's input (the residual stream) and
// the activations of one block, and Backward runs each block's forward
// again, from its input, just before that block's backward (the last
// block's are still there). The activations take about 1/nL of the
// memory they take otherwise, for one more forward pass of every block
// but the last; the loss, the logits and the gradients are the same bits
// (cudamodel.Model.SetRecompute is the same on a GPU).
func (m *Model) SetRecompute(on bool) { m.recompute = on }

// Recompute reports whether SetRecompute is on.
func (m *Model) Recompute() bool { return m.recompute }

func newActs(c *Config, B, L int, recompute bool) *acts {
	V, D, Din, N, R, _, nL := c.dims()
	M, S := B*L, slots(nL, recompute)
	return &acts{
		B: B, L: L, recompute: recompute,
		resid: make([]float32, (nL+1)*M*D), rstd: make([]float32, S*M), xn: make([]float32, S*M*D),
		xin: make([]float32, S*M*Din), z: make([]float32, S*M*Din), conv: make([]float32, S*M*Din),
		u: make([]float32, S*M*Din), dtLow: make([]float32, S*M*R), bm: make([]float32, S*M*N*c.cf()),
		cm: make([]float32, S*M*N*c.cf()), dtRaw: make([]float32, S*M*Din), y: make([]float32, S*M*Din),
		saved: make([]float32, S*kernels.SavedLen(B, L, Din, N*c.cf())), a: make([]float32, S*Din*N),
		rstdF: make([]float32, M), xnF: make([]float32, M*D), logits: make([]float32, M*V),
	}
}

// Logits returns the logits (B, L, V) of the last Forward; they are
// overwritten by the next.
func (m *Model) Logits() []float32 {
	if m.acts == nil {
		return nil
	}
	return m.acts.logits
}

// Hidden returns the residual stream after block i of the last Forward
// (B, L, D); i = num_hidden_layers gives the output after norm_f.
func (m *Model) Hidden(i int) []float32 {
	nL, M, D := m.Config.NumHiddenLayers, m.acts.B*m.acts.L, m.Config.HiddenSize
	if i == nL {
		return m.acts.xnF
	}
	return m.acts.resid[(i+1)*M*D : (i+2)*M*D]
}

func (b *Batch) check(V int) error {
	if b.B < 1 || b.L < 1 {
		return fmt.Errorf("backbone: batch of %d×%d tokens: want at least 1×1", b.B, b.L)
	}
	M := b.B * b.L
	if len(b.Inputs) != M {
		return fmt.Errorf("backbone: batch has %d input ids, want B·L = %d", len(b.Inputs), M)
	}
	if b.Targets != nil && len(b.Targets) != M {
		return fmt.Errorf("backbone: batch has %d targets, want B·L = %d", len(b.Targets), M)
	}
	if b.Reset != nil && len(b.Reset) != M {
		return fmt.Errorf("backbone: batch has %d reset flags, want B·L = %d", len(b.Reset), M)
	}
	for i, id := range b.Inputs {
		if id < 0 || int(id) >= V {
			return fmt.Errorf("backbone: input id %d at position %d is outside the vocabulary [0, %d)", id, i, V)
		}
	}
	for i, id := range b.Targets {
		if int(id) >= V {
			return fmt.Errorf("backbone: target id %d at position %d is outside the vocabulary [0, %d)", id, i, V)
		}
	}
	return nil
}

// Scored is the number of positions of b with a target (≥ 0).
func (b *Batch) Scored() int {
	n := 0
	for _, v := range b.Targets {
		if v >= 0 {
			n++
		}
	}
	return n
}
