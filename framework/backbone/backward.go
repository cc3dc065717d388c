package backbone

import (
	"errors"

	"github.com/mambakit/mambakit/framework/kernels"
)

// Backward adds the gradient of the last Forward's mean loss w.r.t. every
// parameter into m.Grads (allocated on first use; call ZeroGrad between
// steps, or not, to accumulate). When that Forward started from a state, it
// returns the gradient w.r.t. that state (the state it produced is treated
// as a constant: truncated backpropagation through time; the returned State
// is reused by the next Backward); otherwise nil.
//
// The passes mirror Forward in reverse, block by block: head and norm_f,
// then for each block out_proj, the scan, dt_proj, x_proj, SiLU, conv1d,
// in_proj, RMSNorm and the residual.
func (m *Model) Backward() (*State, error) {
	a := m.acts
	if a == nil || !a.hasTargets {
		return nil, errors.New("backbone: Backward needs a Forward with targets first")
	}
	c := &m.Config
	V, D, Din, N, R, K, nL := c.dims()
	B, L, M := a.B, a.L, a.B*a.L
	if m.Grads == nil {
		m.Grads = NewParams(c)
	}
	p, g := m.Params, m.Grads
	var dState *State
	if a.hasState0 {
		if a.dState == nil {
			a.dState = m.NewState(B)
		}
		dState = a.dState
		clear(dState.Conv)
		clear(dState.SSM)
	}
	if a.count == 0 {
		return dState, nil
	}

	w := a.grad(c)
	dlogits, dxnF, dResid := w.dlogits, w.dxnF, w.dResid
	dY, dU, dDt, dZ, dXin := w.dY, w.dU, w.dDt, w.dZ, w.dXin
	dDtLow, dBm, dCm, dXn := w.dDtLow, w.dBm, w.dCm, w.dXn
	dA, dSkip, dBias, dConvW, dConvB := w.dA, w.dSkip, w.dBias, w.dConvW, w.dConvB

	// Head: logits = xnF·Embedᵀ. In bf16 a gradient read by rows (its
	// input gradient's product) and transposed (its weight gradient's) is
	// converted once for both (packGrad), dropped before it changes.
	m.dropPacks()
	defer m.dropPacks()
	kernels.CrossEntropy(dlogits, a.logits, a.targets, V, 1/float32(a.count))
	m.packGrad(M, V, dlogits)
	m.matMul(false, false, M, D, V, dlogits, p.Embed, 0, dxnF)
	m.matMul(true, false, V, D, M, dlogits, a.xnF, 1, g.Embed)
	// dResid: gradient w.r.t. the residual stream.
	kernels.RMSNormBackward(dResid, g.NormF, dxnF, a.resid[nL*M*D:], p.NormF, a.rstdF, M, D)

	S := slots(nL, a.recompute)
	for l := nL - 1; l >= 0; l-- {
		if a.recompute && l < nL-1 { // the block's activations again (the last block's are there)
			m.blockForward(l, nil, true)
		}
		s := a.slot(l)
		u := a.u[s*M*Din : (s+1)*M*Din]
		y := a.y[s*M*Din : (s+1)*M*Din]
		m.dropPacks()
		m.packGrad(M, D, dResid)
		// out_proj: the residual passes dResid through unchanged.
		m.matMul(false, false, M, Din, D, dResid, layer(p.OutProj, nL, l), 0, dY)
		m.matMul(true, false, D, Din, M, dResid, y, 1, layer(g.OutProj, nL, l))

		selB, selC, cx := c.selective("B"), c.selective("C"), c.ComplexA
		cf := c.cf()
		bmAll, cmAll := a.bm[s*M*N*cf:(s+1)*M*N*cf], a.cm[s*M*N*cf:(s+1)*M*N*cf]
		sc, sg := &a.scan, &a.scanGrads
		*sc = kernels.Scan{B: B, L: L, D: Din, N: N,
			U: u, Delta: a.dtRaw[s*M*Din : (s+1)*M*Din], DeltaBias: layer(p.DtB, nL, l),
			A: a.a[s*Din*N : (s+1)*Din*N], Bm: bmAll[:M*N], Cm: cmAll[:M*N],
			BPerChannel: !selB, CPerChannel: !selC,
			Dskip: layer(p.Dskip, nL, l), Z: a.z[s*M*Din : (s+1)*M*Din], Reset: a.reset,
			Y: y, Saved: layer(a.saved, S, s)}
		*sg = kernels.ScanGrads{DY: dY, DU: dU, DDelta: dDt, DDeltaBias: dBias, DA: dA,
			DBm: dBm, DCm: dCm, DDskip: dSkip, DZ: dZ}
		if cx { // imaginary parts: of selective B, C after their real parts
			sc.AImag, sg.DAImag = layer(p.AImag, nL, l), w.dAI
			sc.BImag, sc.CImag, sg.DBImag, sg.DCImag = bmAll[M*N:], cmAll[M*N:], w.dBmI, w.dCmI
		}
		if !selB { // per-channel B: the parameter mixer.B and its gradient (Din, N)
			sc.Bm, sg.DBm = layer(p.BParam, nL, l), w.dBp
			if cx {
				sc.BImag, sg.DBImag = layer(p.BImag, nL, l), w.dBpI
			}
		}
		if !selC {
			sc.Cm, sg.DCm = layer(p.CParam, nL, l), w.dCp
			if cx {
				sc.CImag, sg.DCImag = layer(p.CImag, nL, l), w.dCpI
			}
		}
		if a.hasState0 {
			sc.H0 = layer(a.state0.SSM, nL, l)
			sg.DH0 = layer(dState.SSM, nL, l)
		}
		sc.Backward(sg)
		addTo(layer(g.DtB, nL, l), dBias)
		addTo(layer(g.Dskip, nL, l), dSkip)
		// A = −exp(A_log), so dA_log = dA·A.
		gA := layer(g.ALog, nL, l)
		for i, v := range dA {
			gA[i] += v * sc.A[i]
		}

		if !selB {
			addTo(layer(g.BParam, nL, l), w.dBp)
		}
		if !selC {
			addTo(layer(g.CParam, nL, l), w.dCp)
		}
		if cx {
			addTo(layer(g.AImag, nL, l), w.dAI)
			if !selB {
				addTo(layer(g.BImag, nL, l), w.dBpI)
			}
			if !selC {
				addTo(layer(g.CImag, nL, l), w.dCpI)
			}
		}

		// dt_proj, then x_proj's row blocks (those of the selective
		// parameters: Δ rank r, B, C); dU accumulates.
		r, nb, nc := c.xProjRows()
		wx, gx := layer(p.XProj, nL, l), layer(g.XProj, nL, l)
		// dU += (each block's gradient)·(its rows of x_proj): one group of
		// products adding into dU (matMuls), which reads and writes dU
		// once.
		var dUOps [5]kernels.MatMulOp
		nU := 0
		addDU := func(grad, w []float32, k int) {
			dUOps[nU] = kernels.MatMulOp{M: M, N: Din, K: k, A: grad, B: w, Beta: 1, C: dU}
			nU++
		}
		if r > 0 {
			m.packGrad(M, Din, dDt)
			m.matMul(false, false, M, r, Din, dDt, layer(p.DtW, nL, l), 0, dDtLow)
			m.matMul(true, false, Din, r, M, dDt, a.dtLow[s*M*R:(s+1)*M*R], 1, layer(g.DtW, nL, l))
			addDU(dDtLow, wx[:r*Din], r)
		}
		// The row blocks of B and C: real parts, then (complex) imaginary.
		type block struct {
			row  int       // first row in x_proj
			grad []float32 // (M, N)
		}
		var blockBuf [4]block
		blocks := blockBuf[:0]
		if nb > 0 {
			blocks = append(blocks, block{r, dBm})
			if cx {
				blocks = append(blocks, block{r + N, w.dBmI})
			}
		}
		if nc > 0 {
			blocks = append(blocks, block{r + nb, dCm})
			if cx {
				blocks = append(blocks, block{r + nb + N, w.dCmI})
			}
		}
		for _, bl := range blocks {
			addDU(bl.grad, wx[bl.row*Din:(bl.row+N)*Din], N)
		}
		m.matMuls(0, dUOps[:nU])
		// x_proj's weight gradient, block by block: gx[rows] += gradᵀ·u.
		// u is the B of every block's product: one group reads it once
		// (in bf16, rounds it once).
		var gxOps [5]kernels.MatMulOp
		nx := 0
		addGX := func(grad []float32, row0, rows int) {
			gxOps[nx] = kernels.MatMulOp{TransA: true, M: rows, N: Din, K: M, A: grad, B: u, Beta: 1, C: gx[row0*Din : (row0+rows)*Din]}
			nx++
		}
		if r > 0 {
			addGX(dDtLow, 0, r)
		}
		for _, bl := range blocks {
			addGX(bl.grad, bl.row, N)
		}
		m.matMuls(sameB, gxOps[:nx])

		// The conv's gradient from dU through SiLU, fused into its pass.
		cv := kernels.Conv1d{B: B, L: L, D: Din, K: K, X: a.xin[s*M*Din : (s+1)*M*Din],
			W: layer(p.ConvW, nL, l), Reset: a.reset, Y: a.conv[s*M*Din : (s+1)*M*Din]}
		cg := kernels.Conv1dGrads{DU: dU, DX: dXin, DW: dConvW}
		if c.UseConvBias {
			cv.Bias = layer(p.ConvB, nL, l)
			cg.DBias = dConvB
		}
		if a.hasState0 {
			cv.State0 = layer(a.state0.Conv, nL, l)
			cg.DState0 = layer(dState.Conv, nL, l)
		}
		cv.Backward(&cg)
		addTo(layer(g.ConvW, nL, l), dConvW)
		if c.UseConvBias {
			addTo(layer(g.ConvB, nL, l), dConvB)
		}

		// in_proj: both halves feed xn.
		m.packGrad(M, Din, dXin)
		m.packGrad(M, Din, dZ)
		xn := a.xn[s*M*D : (s+1)*M*D]
		win, gin := layer(p.InProj, nL, l), layer(g.InProj, nL, l)
		// dXn = dXin·W_x + dZ·W_z: one group, which writes dXn once.
		m.matMuls(0, []kernels.MatMulOp{
			{M: M, N: D, K: Din, A: dXin, B: win[:Din*D], C: dXn},
			{M: M, N: D, K: Din, A: dZ, B: win[Din*D:], Beta: 1, C: dXn},
		})
		// Their weight gradients, both of xn.
		m.matMulsBF16(sameB, []kernels.MatMulOp{
			{TransA: true, M: Din, N: D, K: M, A: dXin, B: xn, Beta: 1, C: gin[:Din*D]},
			{TransA: true, M: Din, N: D, K: M, A: dZ, B: xn, Beta: 1, C: gin[Din*D:]},
		})

		// The block's input gradient joins the residual's: dResid += dx.
		kernels.RMSNormBackwardAdd(dResid, layer(g.Norm, nL, l), dXn, a.resid[l*M*D:(l+1)*M*D],
			layer(p.Norm, nL, l), a.rstd[s*M:(s+1)*M], M, D)
	}
	kernels.EmbeddingBackward(g.Embed, dResid, a.ids, V, D)
	return dState, nil
}

func addTo(dst, src []float32) {
	for i, v := range src {
		dst[i] += v
	}
}

// ZeroGrad clears the gradients.
func (m *Model) ZeroGrad() {
	if m.Grads != nil {
		clear(m.Grads.Data)
	}
}

// gradBufs are Backward's scratch buffers, kept with the activations so a
// training step allocates them once per batch shape.
type gradBufs struct {
	dlogits               []float32 // (M, V)
	dxnF, dResid, dXn     []float32 // (M, D)
	dY, dU, dDt, dZ, dXin []float32 // (M, Din)
	dDtLow                []float32 // (M, R)
	dBm, dCm              []float32 // (M, N)
	dA, dBp, dCp          []float32 // (Din, N): dA, and per-channel dB, dC
	dAI, dBpI, dCpI       []float32 // (Din, N): complex: A_imag, per-channel B_imag, C_imag
	dBmI, dCmI            []float32 // (M, N): complex: imaginary parts of selective B, C
	dSkip, dBias, dConvB  []float32 // (Din)
	dConvW                []float32 // (Din, K)
}

func (a *acts) grad(c *Config) *gradBufs {
	if a.g != nil {
		return a.g
	}
	V, D, Din, N, R, K, _ := c.dims()
	M := a.B * a.L
	f := func(n int) []float32 { return make([]float32, n) }
	a.g = &gradBufs{dlogits: f(M * V), dxnF: f(M * D), dResid: f(M * D), dXn: f(M * D),
		dY: f(M * Din), dU: f(M * Din), dDt: f(M * Din), dZ: f(M * Din), dXin: f(M * Din),
		dDtLow: f(M * R), dBm: f(M * N), dCm: f(M * N), dA: f(Din * N), dBp: f(Din * N), dCp: f(Din * N),
		dAI: f(Din * N), dBpI: f(Din * N), dCpI: f(Din * N), dBmI: f(M * N), dCmI: f(M * N), dSkip: f(Din), dBias: f(Din), dConvB: f(Din),
		dConvW: f(Din * K)}
	return a.g
}
