package cudamodel

import (
	"errors"

	"github.com/mambakit/mambakit/framework/cudakernels"
)

// Backward adds the gradient of the last Forward's mean loss w.r.t. every
// parameter into the gradients (ZeroGrad between steps, or not, to
// accumulate), as backbone.Model.Backward: the head and norm_f, then each
// block in reverse (out_proj, the scan, dt_proj, x_proj, SiLU, conv1d,
// in_proj, RMSNorm, the residual), then the embedding.
func (g *Model) Backward() error {
	a := g.acts
	if a == nil || !a.hasTarget {
		return errors.New("cudamodel: Backward needs a Forward with targets first")
	}
	if a.count == 0 && g.lossDenom == 0 {
		return nil
	}
	// Backward adds to the gradients: the factors recorded for them first.
	if err := g.settleGrads(); err != nil {
		return err
	}
	c := &g.Config
	V, D, Din, N, R, K, nL := dims(c)
	B, L, M := a.B, a.L, a.B*a.L
	d, p, gr, ly := g.dev, g.params, g.grads, g.lay
	reset := a.resets()
	e, end := g.startPass("backward", nil)
	defer end()

	// Head: logits = xnF·Embedᵀ.
	// The forward's row statistics spare two passes over the logits; in
	// bf16 the gradient is written as the products read it.
	x := &cudakernels.XEnt{Logits: a.logits, Targets: a.targets, M: M, V: V, Scale: 1 / float32(g.denominator(a.count)),
		Stats: a.xstats, Saved: true, NoLoss: true}
	if g.bf16 {
		x.DLogits16 = a.dlogits
	} else {
		x.DLogits = a.dlogits
	}
	_, _, err := d.CrossEntropyWith(x)
	e.op("cross-entropy", err)
	g.products(e,
		product{name: "head dx", m: M, n: D, k: V, a: a.dlogits, a16: a.dlogits, b: at(p, ly.embed), c: a.dxnF},
		product{name: "head dW", transA: true, m: V, n: D, k: M, a: a.dlogits, a16: a.dlogits, b: a.xnF, b16: a.half(a.xnF16, 0), beta: 1, c: at(gr, ly.embed)})
	dResid16 := a.half(a.dResid16, 0) // dResid as out_proj's products read it
	e.op("norm_f", d.RMSNormBackward(a.dResid, dResid16, at(gr, ly.normF), a.dxnF, f4(a.resid, nL*M*D), at(p, ly.normF), a.rstdF, M, D, false))

	selB, selC, cx := selective(c, "B"), selective(c, "C"), c.ComplexA
	cfc := cf(c)
	for l := nL - 1; l >= 0 && e.err == nil; l-- {
		if a.recompute && l < nL-1 { // the block's activations again (the last block's are there)
			e.prefix = "recompute: "
			g.blockForward(e, l, true)
			e.prefix = ""
		}
		s := a.slot(l)
		u := f4(a.u, s*M*Din)
		u16 := a.half(a.u16, s*M*Din) // u's bfloat16 form, written by the convolution
		y := f4(a.y, s*M*Din)
		// out_proj: the residual passes dResid through unchanged.
		g.products(e,
			product{name: "out_proj dx", m: M, n: Din, k: D, a: a.dResid, a16: dResid16, b: ly.lay(p, ly.outProj, l), c: a.dY},
			product{name: "out_proj dW", transA: true, m: D, n: Din, k: M, a: a.dResid, a16: dResid16, b: y, b16: a.half(a.y16, s*M*Din), beta: 1, c: ly.lay(gr, ly.outProj, l)})

		bmAll, cmAll := f4(a.bm, s*cfc*M*N), f4(a.cm, s*cfc*M*N)
		A := f4(a.a, s*Din*N)
		sc := &cudakernels.Scan{B: B, L: L, D: Din, N: N,
			U: u, Delta: f4(a.dtRaw, s*M*Din), DeltaBias: ly.lay(p, ly.dtB, l),
			A: A, Bm: bmAll, Cm: cmAll, BPerChannel: !selB, CPerChannel: !selC,
			Dskip: ly.lay(p, ly.dskip, l), Z: f4(a.z, s*M*Din), Reset: reset,
			Y: y, Saved: f4(a.saved, s*a.savedLen)}
		sg := &cudakernels.ScanGrads{DY: a.dY, DU: a.dU, DDelta: a.dDt, DDeltaBias: a.dBias, DA: a.dA,
			DBm: a.dBm, DCm: a.dCm, DDskip: a.dSkip, DZ: a.dZ}
		// dΔ and dz feed only products: in bf16 they are written as
		// those read them, into the same buffers.
		dDt16, dZ16 := a.half(a.dDt, 0), a.half(a.dZ, 0)
		if a.bf16 {
			sg.DDelta, sg.DZ, sg.DDelta16, sg.DZ16 = 0, 0, dDt16, dZ16
		}
		if cx { // imaginary parts: of selective B, C after their real parts
			sc.AImag, sg.DAImag = ly.lay(p, ly.aImag, l), a.dAI
			sc.BImag, sc.CImag, sg.DBImag, sg.DCImag = f4(bmAll, M*N), f4(cmAll, M*N), a.dBmI, a.dCmI
		}
		if !selB { // per-channel B: the parameter mixer.B and its gradient (Din, N)
			sc.Bm, sg.DBm = ly.lay(p, ly.bParam, l), a.dBp
			if cx {
				sc.BImag, sg.DBImag = ly.lay(p, ly.bImag, l), a.dBpI
			}
		}
		if !selC {
			sc.Cm, sg.DCm = ly.lay(p, ly.cParam, l), a.dCp
			if cx {
				sc.CImag, sg.DCImag = ly.lay(p, ly.cImag, l), a.dCpI
			}
		}
		e.op("scan", d.ScanBackward(sc, sg))
		e.op("small gradients", d.AddMul(ly.lay(gr, ly.dtB, l), a.dBias, 0, Din))
		e.op("small gradients", d.AddMul(ly.lay(gr, ly.dskip, l), a.dSkip, 0, Din))
		// A = −exp(A_log), so dA_log = dA·A.
		e.op("small gradients", d.AddMul(ly.lay(gr, ly.aLog, l), a.dA, A, Din*N))
		if !selB {
			e.op("small gradients", d.AddMul(ly.lay(gr, ly.bParam, l), a.dBp, 0, Din*N))
		}
		if !selC {
			e.op("small gradients", d.AddMul(ly.lay(gr, ly.cParam, l), a.dCp, 0, Din*N))
		}
		if cx {
			e.op("small gradients", d.AddMul(ly.lay(gr, ly.aImag, l), a.dAI, 0, Din*N))
			if !selB {
				e.op("small gradients", d.AddMul(ly.lay(gr, ly.bImag, l), a.dBpI, 0, Din*N))
			}
			if !selC {
				e.op("small gradients", d.AddMul(ly.lay(gr, ly.cImag, l), a.dCpI, 0, Din*N))
			}
		}

		// dt_proj, then x_proj's row blocks; dU accumulates.
		r, nb, nc := xProjRows(c)
		wx, gx := ly.lay(p, ly.xProj, l), ly.lay(gr, ly.xProj, l)
		if r > 0 {
			g.products(e,
				product{name: "dt_proj dx", m: M, n: r, k: Din, a: a.dDt, a16: dDt16, b: ly.lay(p, ly.dtW, l), c: a.dDtLow},
				product{name: "dt_proj dW", transA: true, m: Din, n: r, k: M, a: a.dDt, a16: dDt16, b: f4(a.dtLow, s*M*R), beta: 1, c: ly.lay(gr, ly.dtW, l)})
		}
		// x_proj: its blocks' gradients side by side in xdbl (M, S), then
		// one product for dU and one for the weight.
		if S := r + nb + nc; S > 0 {
			for _, b := range xBlocks(c, a.dDtLow, a.dBm, a.dBmI, a.dCm, a.dCmI) {
				e.op("x_proj gather", d.CopyCols(cudakernels.Cols{P: a.xdbl, LD: S, Off: b.row, W: b.w}, cudakernels.Cols{P: b.p, LD: b.w, W: b.w}, M))
			}
			g.products(e,
				product{name: "x_proj dx", m: M, n: Din, k: S, a: a.xdbl, b: wx, beta: 1, c: a.dU},
				product{name: "x_proj dW", transA: true, m: S, n: Din, k: M, a: a.xdbl, b: u, b16: u16, beta: 1, c: gx})
		}

		// SiLU and the convolution; dXin is written as in_proj's products
		// read it (bfloat16 in bf16: dXin16 below).
		cv := &cudakernels.Conv1d{B: B, L: L, D: Din, K: K, X: f4(a.xin, s*M*Din), W: ly.lay(p, ly.convW, l), Reset: reset, Y: f4(a.conv, s*M*Din)}
		if st := a.state; st != nil && K > 1 { // the inputs before the batch
			cv.State0 = f4(st.conv[a.stateIn], l*st.layerCvL)
		}
		cg := &cudakernels.Conv1dGrads{DU: a.dU, DX: a.dXin, DW: a.dConvW}
		dXin16 := a.half(a.dXin, 0)
		if a.bf16 {
			cg.DX, cg.DX16 = 0, dXin16
		}
		if c.UseConvBias {
			cv.Bias = ly.lay(p, ly.convB, l)
			cg.DBias = a.dConvB
		}
		e.op("conv1d + silu", d.Conv1dBackward(cv, cg))
		e.op("small gradients", d.AddMul(ly.lay(gr, ly.convW, l), a.dConvW, 0, Din*K))
		if c.UseConvBias {
			e.op("small gradients", d.AddMul(ly.lay(gr, ly.convB, l), a.dConvB, 0, Din))
		}

		// in_proj: both halves feed xn.
		xn, xn16 := f4(a.xn, s*M*D), a.half(a.xn16, s*M*D)
		win, gin := ly.lay(p, ly.inProj, l), ly.lay(gr, ly.inProj, l)
		g.products(e,
			product{name: "in_proj dx", m: M, n: D, k: Din, a: a.dXin, a16: dXin16, b: win, c: a.dXn},
			product{name: "in_proj dx", m: M, n: D, k: Din, a: a.dZ, a16: dZ16, b: f4(win, Din*D), beta: 1, c: a.dXn},
			product{name: "in_proj dW", transA: true, m: Din, n: D, k: M, a: a.dXin, a16: dXin16, b: xn, b16: xn16, beta: 1, c: gin},
			product{name: "in_proj dW", transA: true, m: Din, n: D, k: M, a: a.dZ, a16: dZ16, b: xn, b16: xn16, beta: 1, c: f4(gin, Din*D)})

		// The residual stream: its gradient takes the norm's added in place.
		e.op("rmsnorm + residual", d.RMSNormBackward(a.dResid, dResid16, ly.lay(gr, ly.norm, l), a.dXn, f4(a.resid, l*M*D),
			ly.lay(p, ly.norm, l), f4(a.rstd, s*M), M, D, true))
		e.hook(g.gradHook, l) // block l's gradients are final
	}
	e.op("embedding", d.EmbeddingBackward(at(gr, ly.embed), a.dResid, a.index, D))
	e.hook(g.gradHook, -1) // and the embedding's and norm_f's
	return e.err
}
