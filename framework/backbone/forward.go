package backbone

import (
	"math"

	"github.com/mambakit/mambakit/framework/kernels"
)

// Forward runs the model over a batch and returns the mean cross-entropy of
// the targets (0 when b.Targets is nil). When st is non-nil it is the state
// before the batch (chunked long sequences) and is overwritten with the
// state after it. The activations are kept for Backward (with
// SetRecompute, every block's input and one block's activations).
func (m *Model) Forward(b *Batch, st *State) (float64, error) {
	c := &m.Config
	V, D, _, _, _, _, nL := c.dims()
	if err := b.check(V); err != nil {
		return 0, err
	}
	if st != nil {
		if err := m.checkState(st, b.B); err != nil {
			return 0, err
		}
	}
	M := b.B * b.L
	if m.acts == nil || m.acts.B != b.B || m.acts.L != b.L || m.acts.recompute != m.recompute {
		m.acts = newActs(c, b.B, b.L, m.recompute)
	}
	a := m.acts
	a.ids, a.targets, a.reset, a.hasTargets = b.Inputs, b.Targets, b.Reset, b.Targets != nil
	a.hasState0 = st != nil
	if st != nil {
		if a.state0 == nil {
			a.state0 = &State{B: st.B, Conv: make([]float32, len(st.Conv)), SSM: make([]float32, len(st.SSM))}
		}
		copy(a.state0.Conv, st.Conv)
		copy(a.state0.SSM, st.SSM)
	}
	p := m.Params
	eps := float32(c.LayerNormEpsilon)
	m.b16.gen++ // the weights may have changed: bf16 packs them again
	// In bf16 the activations that a product reads by rows here and
	// Backward's weight gradients by pairs of rows are converted once for
	// both (packAct); the packs of the last Forward go.
	m.b16.nkept = 0
	m.dropPacks()
	defer m.dropPacks()

	kernels.EmbeddingForward(a.resid[:M*D], p.Embed, b.Inputs, V, D)
	for l := 0; l < nL; l++ {
		m.blockForward(l, st, false)
	}
	kernels.RMSNormForward(a.xnF, a.rstdF, a.resid[nL*M*D:], p.NormF, M, D, eps)
	m.dropPacks()
	m.packAct(M, D, a.xnF)
	m.matMul(false, true, M, V, D, a.xnF, p.Embed, 0, a.logits)
	if b.Targets == nil {
		a.count = 0
		return 0, nil
	}
	sum, count := kernels.CrossEntropy(nil, a.logits, b.Targets, V, 0)
	a.count = count
	if count == 0 {
		return 0, nil
	}
	return sum / float64(count), nil
}

// blockForward runs block l of the last Forward's batch from its input
// resid[l] into the block's activations (slot l, or 0 with recompute):
// RMSNorm, in_proj, the convolution and SiLU, the SSM's parameters and
// the scan. The first time (again false) it also writes the state after
// the batch into st (when the batch carries one) and the block's output,
// resid[l] + out_proj(y), into resid[l+1]. Run again for the backward of
// a recomputed block (again true), it reads the same inputs (the copy of
// the state the batch started from) and writes only the activations, the
// same bits as the first time. With recompute, the bf16 packs Backward
// reads (packAct) are those of the block in the slot: the slot's
// activations replace the block before's, so do their packs; and the
// first Forward packs none for a block before the last, whose packs
// Backward would never read (it runs the block again first), so the
// products pack their operands themselves there.
func (m *Model) blockForward(l int, st *State, again bool) {
	c, a, p := &m.Config, m.acts, m.Params
	_, D, Din, N, R, K, nL := c.dims()
	B, L, M := a.B, a.L, a.B*a.L
	s := a.slot(l)
	if a.recompute {
		m.b16.nkept = 0
	}
	// pack is packAct where Backward reads the packs.
	keep := !a.recompute || again || l == nL-1
	pack := func(rows, cols int, x []float32) {
		if keep {
			m.packAct(rows, cols, x)
		}
	}
	eps := float32(c.LayerNormEpsilon)
	x := a.resid[l*M*D : (l+1)*M*D]
	xn := a.xn[s*M*D : (s+1)*M*D]
	kernels.RMSNormForward(xn, a.rstd[s*M:(s+1)*M], x, layer(p.Norm, nL, l), M, D, eps)
	m.dropPacks()
	pack(M, D, xn)

	// in_proj: x and z from the two halves of the weight.
	win := layer(p.InProj, nL, l)
	xin, z := a.xin[s*M*Din:(s+1)*M*Din], a.z[s*M*Din:(s+1)*M*Din]
	m.matMulsBF16(sameA, []kernels.MatMulOp{
		{TransB: true, M: M, N: Din, K: D, A: xn, B: win[:Din*D], C: xin},
		{TransB: true, M: M, N: Din, K: D, A: xn, B: win[Din*D:], C: z},
	})

	conv, u := a.conv[s*M*Din:(s+1)*M*Din], a.u[s*M*Din:(s+1)*M*Din]
	cv := kernels.Conv1d{B: B, L: L, D: Din, K: K, X: xin, W: layer(p.ConvW, nL, l), Reset: a.reset, Y: conv, U: u}
	if c.UseConvBias {
		cv.Bias = layer(p.ConvB, nL, l)
	}
	if a.hasState0 {
		cv.State0 = layer(a.state0.Conv, nL, l)
		if !again {
			cv.StateT = layer(st.Conv, nL, l)
		}
	}
	cv.Forward() // conv, kept for backward, and u = SiLU(conv)
	pack(M, Din, u)

	dtLow := a.dtLow[s*M*R : (s+1)*M*R]
	dtRaw := a.dtRaw[s*M*Din : (s+1)*M*Din]
	cf := c.cf()
	bm, cm, bmI, cmI := m.ssmParams(false, l, M, u, dtLow, a.bm[s*M*N*cf:(s+1)*M*N*cf], a.cm[s*M*N*cf:(s+1)*M*N*cf], dtRaw)

	A := a.a[s*Din*N : (s+1)*Din*N]
	for i, v := range layer(p.ALog, nL, l) {
		A[i] = -float32(math.Exp(float64(v)))
	}
	y := a.y[s*M*Din : (s+1)*M*Din]
	sc := &a.scan
	*sc = kernels.Scan{B: B, L: L, D: Din, N: N,
		U: u, Delta: dtRaw, DeltaBias: layer(p.DtB, nL, l), A: A, Bm: bm, Cm: cm,
		BPerChannel: !c.selective("B"), CPerChannel: !c.selective("C"),
		AImag: layer(p.AImag, nL, l), BImag: bmI, CImag: cmI,
		Dskip: layer(p.Dskip, nL, l), Z: z, Reset: a.reset,
		Y: y, Saved: layer(a.saved, slots(nL, a.recompute), s)}
	if !c.ComplexA {
		sc.AImag = nil
	}
	if a.hasState0 {
		sc.H0 = layer(a.state0.SSM, nL, l)
		if !again {
			sc.HT = layer(st.SSM, nL, l)
		}
	}
	sc.Forward()
	pack(M, Din, y)
	if again {
		return
	}

	// out_proj, then the residual add into the next block's input.
	next := a.resid[(l+1)*M*D : (l+2)*M*D]
	copy(next, x)
	m.matMul(false, true, M, D, Din, y, layer(p.OutProj, nL, l), 1, next)
}

// ssmParams computes the SSM's inputs for M rows of u (M, Din) in block l:
// Δ before its bias and softplus into dtRaw (M, Din), from x_proj's rank-R
// rows through dt_proj (zero when Δ is non-selective: Δ is then
// softplus(dt_proj.bias) per channel), and B and C from x_proj's next row
// blocks into bm, cm ((M, N), or (2, M, N) for real and imaginary parts in
// a complex model), or, for a non-selective variant, the per-channel
// parameters mixer.B, mixer.C (and mixer.B_imag, mixer.C_imag). It returns
// B and C as the scan reads them, and their imaginary parts (nil when the
// model is real). dtLow (M, R) holds x_proj's Δ rows. step says whose
// products these are: Step's (stepMatMul) or Forward's.
func (m *Model) ssmParams(step bool, l, M int, u, dtLow, bm, cm, dtRaw []float32) (B, C, BIm, CIm []float32) {
	c, p := &m.Config, m.Params
	_, _, Din, N, _, _, nL := c.dims()
	r, nb, _ := c.xProjRows()
	wx := layer(p.XProj, nL, l)
	// x_proj's row blocks all read u: they run as one group of products
	// (xProj), which reads u once (in bf16, rounds it once).
	var ops [5]kernels.MatMulOp
	n := 0
	// nt adds the product dst = u·wᵀ of the rows of w.
	nt := func(w, dst []float32) {
		ops[n] = kernels.MatMulOp{TransB: true, M: M, N: len(w) / Din, K: Din, A: u, B: w, C: dst}
		n++
	}
	if r > 0 {
		nt(wx[:r*Din], dtLow[:M*r])
	}
	B, C = layer(p.BParam, nL, l), layer(p.CParam, nL, l)
	BIm, CIm = layer(p.BImag, nL, l), layer(p.CImag, nL, l)
	// proj adds the x_proj rows from row0 into dst: N rows, and N more
	// for the imaginary parts in a complex model.
	proj := func(row0 int, dst []float32) (re, im []float32) {
		nt(wx[row0*Din:(row0+N)*Din], dst[:M*N])
		if !c.ComplexA {
			return dst[:M*N], nil
		}
		nt(wx[(row0+N)*Din:(row0+2*N)*Din], dst[M*N:2*M*N])
		return dst[:M*N], dst[M*N : 2*M*N]
	}
	if c.selective("B") {
		B, BIm = proj(r, bm)
	}
	if c.selective("C") {
		C, CIm = proj(r+nb, cm)
	}
	m.xProj(step, ops[:n])
	// dt_proj, after x_proj's blocks.
	if r > 0 {
		m.nt(step, 0, M, Din, r, dtLow, layer(p.DtW, nL, l), 0, dtRaw)
	} else {
		clear(dtRaw)
	}
	if !c.ComplexA {
		BIm, CIm = nil, nil
	}
	return B, C, BIm, CIm
}

// xProj runs x_proj's products of u (NT, beta 0): Step's one after
// another (stepMatMul), Forward's as one group (matMuls).
func (m *Model) xProj(step bool, ops []kernels.MatMulOp) {
	if !step {
		m.matMuls(sameA, ops)
		return
	}
	for _, o := range ops {
		m.stepMatMul(o.M, o.N, o.K, o.A, o.B, o.Beta, o.C)
	}
}
