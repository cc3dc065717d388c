package cudamodel

import (
	"fmt"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/cuda"
	"github.com/mambakit/mambakit/framework/cudakernels"
)

func checkBatch(b *backbone.Batch, V int) error {
	if b.B < 1 || b.L < 1 {
		return fmt.Errorf("cudamodel: batch of %d×%d tokens: want at least 1×1", b.B, b.L)
	}
	M := b.B * b.L
	if len(b.Inputs) != M || (b.Targets != nil && len(b.Targets) != M) || (b.Reset != nil && len(b.Reset) != M) {
		return fmt.Errorf("cudamodel: batch has %d inputs, %d targets, %d reset flags; want B·L = %d (targets, resets optional)",
			len(b.Inputs), len(b.Targets), len(b.Reset), M)
	}
	for i, id := range b.Inputs {
		if id < 0 || int(id) >= V {
			return fmt.Errorf("cudamodel: input id %d at position %d is outside the vocabulary [0, %d)", id, i, V)
		}
	}
	for i, id := range b.Targets {
		if int(id) >= V {
			return fmt.Errorf("cudamodel: target id %d at position %d is outside the vocabulary [0, %d)", id, i, V)
		}
	}
	return nil
}

// ensureActs makes g.acts hold activations for a B × L batch, freeing
// those of another shape once the device has finished with them.
func (g *Model) ensureActs(B, L int) error {
	if g.acts != nil && g.acts.B == B && g.acts.L == L && g.acts.bf16 == g.bf16 && g.acts.recompute == g.recompute {
		return nil
	}
	if g.acts != nil {
		if err := g.dev.Synchronize(); err != nil {
			return err
		}
		g.acts.free()
		g.acts = nil
	}
	a, err := newActs(g.dev, &g.Config, B, L, g.bf16, g.recompute)
	if err != nil {
		return err
	}
	g.acts = a
	return nil
}

// Forward runs the model over a batch and returns the mean cross-entropy of
// the targets (0 when b.Targets is nil), as backbone.Model.Forward: with st
// nil every row starts from a zero state; otherwise positions before the
// batch read st (a reset flag cuts it), and st is left holding the state
// after the batch's last position. The activations and logits stay on the
// device for Backward (which reads the state the batch started from, so
// truncated backpropagation through time works) and Logits.
func (g *Model) Forward(b *backbone.Batch, st *State) (float64, error) {
	c := &g.Config
	V, D, _, _, _, _, nL := dims(c)
	if err := checkBatch(b, V); err != nil {
		return 0, err
	}
	if st != nil && st.B != b.B {
		return 0, fmt.Errorf("cudamodel: forward: state for %d rows, the batch has %d", st.B, b.B)
	}
	M := b.B * b.L
	if err := g.ensureActs(b.B, b.L); err != nil {
		return 0, err
	}
	a, d, p, ly := g.acts, g.dev, g.params, g.lay
	// Copies from pageable host memory wait for the kernels before them,
	// so the last step's inputs are no longer in use.
	if err := d.CopyI32To(a.ids, b.Inputs); err != nil {
		return 0, err
	}
	a.hasTarget, a.hasReset, a.count, a.state, a.stateIn = b.Targets != nil, b.Reset != nil, 0, st, 0
	if st != nil {
		a.stateIn = st.cur // blockForward writes the other copy
	}
	if a.hasTarget {
		if err := d.CopyI32To(a.targets, b.Targets); err != nil {
			return 0, err
		}
	}
	if a.hasReset {
		if err := d.CopyBoolTo(a.reset, b.Reset); err != nil {
			return 0, err
		}
	}
	eps := float32(c.LayerNormEpsilon)

	e, end := g.startPass("forward", nil)
	defer end()
	e.op("embedding", d.EmbeddingForward(a.resid, at(p, ly.embed), a.ids, M, D))
	for l := 0; l < nL && e.err == nil; l++ {
		g.blockForward(e, l, false)
	}
	xnF16 := a.half(a.xnF16, 0)
	e.op("norm_f", d.RMSNormForward(a.xnF, xnF16, a.rstdF, f4(a.resid, nL*M*D), at(p, ly.normF), M, D, eps))
	g.products(e, product{name: "head", transB: true, m: M, n: V, k: D, a: a.xnF, a16: xnF16, b: at(p, ly.embed), c: a.logits})
	if e.err != nil {
		return 0, e.err
	}
	// The embedding's index for the backward pass, built on the host while
	// the device runs the launches above (built before them, the device
	// waited for it: the copies of the ids had drained its queue).
	var err error
	if a.index, err = cudakernels.NewEmbedIndex(b.Inputs, V); err != nil {
		return 0, err
	}
	if st != nil {
		st.cur = 1 - a.stateIn
	}
	if !a.hasTarget {
		return 0, nil
	}
	sum, count, err := d.CrossEntropyWith(&cudakernels.XEnt{Logits: a.logits, Targets: a.targets, M: M, V: V, Stats: a.xstats})
	e.op("cross-entropy", err)
	if e.err != nil {
		return 0, e.err
	}
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
// the batch (the copy of a.state after a.stateIn, when the batch carries
// one) and the block's output, resid[l] + out_proj(y), into resid[l+1];
// run again for the backward of a recomputed block (again true), it reads
// the same inputs (a.state's copy a.stateIn) and writes only the
// activations, the same bits as the first time.
func (g *Model) blockForward(e *errs, l int, again bool) {
	c, a, d, p, ly := &g.Config, g.acts, g.dev, g.params, g.lay
	_, D, Din, N, R, K, _ := dims(c)
	B, L, M := a.B, a.L, a.B*a.L
	s := a.slot(l)
	reset := a.resets()
	st, in, out := a.state, a.stateIn, 1-a.stateIn
	x, xn := f4(a.resid, l*M*D), f4(a.xn, s*M*D)
	xn16 := a.half(a.xn16, s*M*D)
	e.op("rmsnorm", d.RMSNormForward(xn, xn16, f4(a.rstd, s*M), x, ly.lay(p, ly.norm, l), M, D, float32(c.LayerNormEpsilon)))

	win := ly.lay(p, ly.inProj, l)
	xin, z := f4(a.xin, s*M*Din), f4(a.z, s*M*Din)
	g.products(e,
		product{name: "in_proj", transB: true, m: M, n: Din, k: D, a: xn, a16: xn16, b: win, c: xin},
		product{name: "in_proj", transB: true, m: M, n: Din, k: D, a: xn, a16: xn16, b: f4(win, Din*D), c: z})

	conv, u := f4(a.conv, s*M*Din), f4(a.u, s*M*Din)
	cv := &cudakernels.Conv1d{B: B, L: L, D: Din, K: K, X: xin, W: ly.lay(p, ly.convW, l), Reset: reset, Y: conv, U: u}
	u16 := a.half(a.u16, s*M*Din)
	cv.U16 = u16
	if c.UseConvBias {
		cv.Bias = ly.lay(p, ly.convB, l)
	}
	if st != nil && K > 1 {
		cv.State0 = f4(st.conv[in], l*st.layerCvL)
		if !again {
			cv.StateT = f4(st.conv[out], l*st.layerCvL)
		}
	}
	e.op("conv1d + silu", d.Conv1dForward(cv))

	bm, cm, bmI, cmI := g.ssmParams(e, l, M, u, u16, f4(a.dtLow, s*M*R),
		f4(a.bm, s*cf(c)*M*N), f4(a.cm, s*cf(c)*M*N), f4(a.dtRaw, s*M*Din), a.xdbl)

	A := f4(a.a, s*Din*N)
	e.op("A = -exp(A_log)", d.NegExp(A, ly.lay(p, ly.aLog, l), Din*N))
	y := f4(a.y, s*M*Din)
	sc := &cudakernels.Scan{B: B, L: L, D: Din, N: N,
		U: u, Delta: f4(a.dtRaw, s*M*Din), DeltaBias: ly.lay(p, ly.dtB, l), A: A, Bm: bm, Cm: cm,
		BPerChannel: !selective(c, "B"), CPerChannel: !selective(c, "C"),
		BImag: bmI, CImag: cmI, Dskip: ly.lay(p, ly.dskip, l), Z: z, Reset: reset,
		Y: y, Y16: a.half(a.y16, s*M*Din), Saved: f4(a.saved, s*a.savedLen)}
	if c.ComplexA {
		sc.AImag = ly.lay(p, ly.aImag, l)
	}
	if st != nil {
		sc.H0 = f4(st.ssm[in], l*st.layerSsL)
		if !again {
			sc.HT = f4(st.ssm[out], l*st.layerSsL)
		}
	}
	e.op("scan", d.ScanForward(sc))
	if again {
		return
	}

	// out_proj, then the residual add into the next block's input.
	next := f4(a.resid, (l+1)*M*D)
	e.op("residual copy", d.CopyDtoD(next, x, 4*M*D))
	g.products(e, product{name: "out_proj", transB: true, m: M, n: D, k: Din, a: y, a16: sc.Y16, b: ly.lay(p, ly.outProj, l), beta: 1, c: next})
}

// errs keeps the first error of a sequence of launches.
type errs struct {
	err    error
	t      *opTimer // op timing (optimes.go), nil when off
	prefix string   // before each operation's name in op timing
}

func (e *errs) do(err error) {
	if e.err == nil {
		e.err = err
	}
}

func selective(c *backbone.Config, p string) bool {
	for _, s := range c.NonSelective {
		if s == p {
			return false
		}
	}
	return true
}

// xProjRows is backbone's: the rows of x_proj for Δ, B and C.
func xProjRows(c *backbone.Config) (r, nb, nc int) {
	if selective(c, "delta") {
		r = int(c.TimeStepRank)
	}
	if selective(c, "B") {
		nb = cf(c) * c.StateSize
	}
	if selective(c, "C") {
		nc = cf(c) * c.StateSize
	}
	return r, nb, nc
}

// xBlock is one of x_proj's row blocks (Δ, B, C, and with complex A the
// imaginary parts of B and C after their real parts): its first row, its
// rows, and a dense (M, w) buffer of its columns of the (M, S) product.
type xBlock struct {
	row, w int
	p      cuda.DevPtr
}

// xBlocks lists x_proj's row blocks with their dense buffers: dt (M, R)
// and the selective B, C (and imaginary parts) (M, N).
func xBlocks(c *backbone.Config, dt, bRe, bIm, cRe, cIm cuda.DevPtr) []xBlock {
	r, nb, _ := xProjRows(c)
	N := c.StateSize
	var bl []xBlock
	if r > 0 {
		bl = append(bl, xBlock{0, r, dt})
	}
	add := func(row0 int, re, im cuda.DevPtr) {
		bl = append(bl, xBlock{row0, N, re})
		if c.ComplexA {
			bl = append(bl, xBlock{row0 + N, N, im})
		}
	}
	if selective(c, "B") {
		add(r, bRe, bIm)
	}
	if selective(c, "C") {
		add(r+nb, cRe, cIm)
	}
	return bl
}

// ssmParams is backbone's ssmParams on the device: Δ before its bias into
// dtRaw (zero when Δ is non-selective), B and C from x_proj into bm, cm
// ((M, N), or (2, M, N) complex) or the per-channel parameters; it returns
// B, C and their imaginary parts (0 when real) as the scan reads them.
// x_proj is one product into xdbl (M, S), whose column blocks are then
// copied into dtLow, bm and cm.
func (g *Model) ssmParams(e *errs, l, M int, u, u16, dtLow, bm, cm, dtRaw, xdbl cuda.DevPtr) (B, C, BIm, CIm cuda.DevPtr) {
	c, p, ly := &g.Config, g.params, g.lay
	_, _, Din, N, _, _, _ := dims(c)
	r, nb, nc := xProjRows(c)
	B, C = ly.lay(p, ly.bParam, l), ly.lay(p, ly.cParam, l)
	BIm, CIm = ly.lay(p, ly.bImag, l), ly.lay(p, ly.cImag, l)
	im := func(x cuda.DevPtr) cuda.DevPtr { return x + cuda.DevPtr(4*M*N) }
	if S := r + nb + nc; S > 0 {
		g.products(e, product{name: "x_proj", transB: true, m: M, n: S, k: Din, a: u, a16: u16, b: ly.lay(p, ly.xProj, l), c: xdbl})
		for _, b := range xBlocks(c, dtLow, bm, im(bm), cm, im(cm)) {
			e.op("x_proj split", g.dev.CopyCols(cudakernels.Cols{P: b.p, LD: b.w, W: b.w}, cudakernels.Cols{P: xdbl, LD: S, Off: b.row, W: b.w}, M))
		}
	}
	if selective(c, "B") {
		B, BIm = bm, im(bm)
	}
	if selective(c, "C") {
		C, CIm = cm, im(cm)
	}
	if r > 0 {
		g.products(e, product{name: "dt_proj", transB: true, m: M, n: Din, k: r, a: dtLow, b: ly.lay(p, ly.dtW, l), c: dtRaw})
	} else {
		e.op("dt_proj", g.dev.Fill32(dtRaw, 0, M*Din))
	}
	if !c.ComplexA {
		BIm, CIm = 0, 0
	}
	return B, C, BIm, CIm
}
