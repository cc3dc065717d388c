package kernels

// Conv1d is the causal depthwise convolution of the Mamba mixer (PyTorch
// nn.Conv1d with groups = channels, padding K−1, output cut to L):
//
//	Y[b,t,d] = Bias[d] + Σ_{k<K} W[d,k]·X[b, t−(K−1)+k, d]
//
// Positions before the sequence start read the carried state State0 (the
// last K−1 inputs of the previous chunk, oldest first; zero when nil).
// When Reset[b*L+t] is true, position t starts a new document and no tap of
// t or of the positions after it in that document reads an input before t.
// StateT, when non-nil, receives the last K−1 inputs (zeros for positions
// before the latest document start): the state to carry into the next chunk.
// U, when non-nil, receives SiLU(Y), bit for bit what SiLUForward(U, Y)
// computes; Forward fuses it into the convolution where it can
// (conv_fused.go).
//
// Shapes: X, Y, U (B, L, D); W (D, K); Bias (D); State0, StateT (B, D,
// K−1); Reset (B, L). Bias, State0, StateT, Reset and U are optional.
type Conv1d struct {
	B, L, D, K int

	X, W, Bias, State0 []float32
	Reset              []bool

	Y, StateT, U []float32
}

// Conv1dGrads are the gradients of a Conv1d. Backward overwrites DX (B, L,
// D), DW (D, K), DBias (D), DState0 (B, D, K−1); nil fields are skipped.
// The gradient of Y is DY, or, when DU is set, DU·silu'(Y) (DY is then not
// read and may be nil): the gradient of U = SiLU(Y), bit for bit what
// SiLUBackward(DY, DU, Y) then Backward computes, fused where Forward
// fuses U.
type Conv1dGrads struct {
	DY, DU                 []float32
	DX, DW, DBias, DState0 []float32
}

func (c *Conv1d) check() {
	B, L, D, K := c.B, c.L, c.D, c.K
	if B < 0 || L < 0 || D < 0 || K < 1 {
		panic("kernels: conv1d: bad size")
	}
	short := func(x []float32, n int, opt bool) bool { return (x != nil || !opt) && len(x) < n }
	if short(c.X, B*L*D, false) || short(c.W, D*K, false) || short(c.Y, B*L*D, false) || short(c.U, B*L*D, true) ||
		short(c.Bias, D, true) || short(c.State0, B*D*(K-1), true) || short(c.StateT, B*D*(K-1), true) ||
		(c.Reset != nil && len(c.Reset) < B*L) {
		panic("kernels: conv1d: buffer too short")
	}
}

// docStart returns, for position t of row b, the first position of its
// document, or −1 when no reset happened at or before t (the carried state
// is visible).
func (c *Conv1d) docStart(b, t int) int {
	if c.Reset == nil {
		return -1
	}
	for s := t; s >= 0; s-- {
		if c.Reset[b*c.L+s] {
			return s
		}
	}
	return -1
}

// Forward computes Y, StateT and U. Work is split over channel ranges
// (whole blocks of convBlock); each worker walks time with its range of
// channels contiguous, so the inner loops run over adjacent memory.
func (c *Conv1d) Forward() { c.forwardWith(vecInUse) }

// forwardWith is Forward with the block kernels of im (conv_fused.go); an
// im without them runs the row loops alone.
func (c *Conv1d) forwardWith(im *vecImpl) {
	c.check()
	a := convArgs{c: *c, im: im}
	fused := c.U != nil && c.siluFused(im)
	if !fused {
		a.c.U = nil
	}
	nb := (c.D + convBlock - 1) / convBlock
	convTeam.run(nb, parts(nb, 1), a)
	if c.U != nil && !fused {
		n := c.B * c.L * c.D
		SiLUForward(c.U[:n], c.Y[:n])
	}
}

// convArgs is a Conv1d.Forward call, or a Backward call when backward is
// set, with the vector kernels it runs. Both structs travel by value, so
// the caller's do not escape.
type convArgs struct {
	c        Conv1d
	g        Conv1dGrads
	im       *vecImpl
	backward bool
}

var convTeam team[convArgs, *convArgs]

// part runs blocks [lo, hi) of convBlock channels.
func (a *convArgs) part(_, lo, hi int) {
	d0, d1 := lo*convBlock, min(hi*convBlock, a.c.D)
	if a.backward {
		a.c.backwardPart(a.im, &a.g, d0, d1)
		return
	}
	a.c.forwardPart(a.im, d0, d1)
}

// convPart is one worker's view of a call: channels [d0, d1), w of them,
// with the weights transposed (weightsT), the carried inputs of the row b
// being walked (gatherState) and, backward, the sums of that row.
type convPart struct {
	d0, d1, w int
	wT        []float32 // (K, w)
	st        []float32 // (K−1, w)
	hasState  bool
	dst       []float32 // (K−1, w): gradient of st
	dWb       []float32 // (K, w): one row b's sum over t
	dBb       []float32 // (w): one row b's sum over t
	dyr       []float32 // (w): DU·silu'(Y) of one position, with DU
}

// tapsInX reports whether every tap of position t reads X: no carried
// state and no input before the document start (start, −1 for none).
func (c *Conv1d) tapsInX(t, start int) bool {
	p := t - (c.K - 1)
	return p >= 0 && start <= p
}

// walkRow walks the positions of row b in order, for channels [d0, d1)
// of which the first nf go to a block kernel: a run of positions whose
// taps all read X goes to blocks(t0, t1) for those nf channels, each
// other position to row(t, start, d0, d0+nf) (start: the document start,
// −1 for none), after the run before it; every position's channels
// [d0+nf, d1) go to row.
func (c *Conv1d) walkRow(b, nf, d0, d1 int, blocks func(t0, t1 int), row func(t, start, lo, hi int)) {
	start, run := -1, -1 // run: the first position of the current run
	for t := 0; t < c.L; t++ {
		if c.Reset != nil && c.Reset[b*c.L+t] {
			start = t
		}
		if nf > 0 && c.tapsInX(t, start) {
			if run < 0 {
				run = t
			}
		} else {
			if run >= 0 {
				blocks(run, t)
				run = -1
			}
			row(t, start, d0, d0+nf)
		}
		row(t, start, d0+nf, d1)
	}
	if run >= 0 {
		blocks(run, c.L)
	}
}

// forwardPart computes Y, StateT and U for channels [d0, d1): runs of
// positions whose taps read X go to im's block kernel (whole blocks), the
// other positions and channels to the row loop.
func (c *Conv1d) forwardPart(im *vecImpl, d0, d1 int) {
	w := d1 - d0
	wTbuf := c.weightsT(d0, d1)
	defer putF32(wTbuf)
	stBuf := getF32((c.K - 1) * w)
	defer putF32(stBuf)
	p := &convPart{d0: d0, d1: d1, w: w, wT: *wTbuf, st: *stBuf}
	var kern func(y, u, x, w, bias *float32, n, ld, ldw int)
	if c.K <= convMaxK {
		kern = im.convFwd[c.K]
	}
	nf := blockChannels(kern != nil, w)
	for b := 0; b < c.B; b++ {
		p.hasState = c.gatherState(p.st, b, d0, d1)
		c.walkRow(b, nf, d0, d1,
			func(t0, t1 int) { c.forwardBlocks(kern, p, b, t0, t1, nf) },
			func(t, start, lo, hi int) { c.forwardRow(p, b, t, start, lo, hi) })
		if c.StateT != nil {
			start := c.docStart(b, c.L-1)
			for j := 0; j < c.K-1; j++ {
				xr := c.row(p.st, p.hasState, b, c.L-(c.K-1)+j, start, d0, d1)
				for i := 0; i < w; i++ {
					var v float32
					if xr != nil {
						v = xr[i]
					}
					c.StateT[(b*c.D+d0+i)*(c.K-1)+j] = v
				}
			}
		}
	}
}

// forwardRow computes Y (and U) of position t of row b, channels [lo,
// hi) ⊂ [p.d0, p.d1): the bias, then one vecMulAdd per tap.
func (c *Conv1d) forwardRow(p *convPart, b, t, start, lo, hi int) {
	if lo == hi {
		return
	}
	i0, i1 := lo-p.d0, hi-p.d0
	r := (b*c.L + t) * c.D
	out := c.Y[r+lo : r+hi]
	if c.Bias != nil {
		copy(out, c.Bias[lo:hi])
	} else {
		clear(out)
	}
	for k := 0; k < c.K; k++ {
		xr := c.row(p.st, p.hasState, b, t-(c.K-1)+k, start, p.d0, p.d1)
		if xr == nil {
			continue
		}
		mulAdd(out, p.wT[k*p.w+i0:k*p.w+i1], xr[i0:i1])
	}
	if c.U != nil {
		siluWith(scanDefault, c.U[r+lo:r+hi], out)
	}
}

// weightsT returns W[d0:d1] transposed to (K, d1−d0), in a buffer to give
// back with putF32.
func (c *Conv1d) weightsT(d0, d1 int) *[]float32 {
	w := d1 - d0
	buf := getF32(c.K * w)
	wT := *buf
	for i := 0; i < w; i++ {
		for k := 0; k < c.K; k++ {
			wT[k*w+i] = c.W[(d0+i)*c.K+k]
		}
	}
	return buf
}

// gatherState copies State0 of row b, channels [d0, d1), into st (K−1,
// d1−d0), oldest first; it reports false when there is no carried state.
func (c *Conv1d) gatherState(st []float32, b, d0, d1 int) bool {
	if c.State0 == nil {
		return false
	}
	w := d1 - d0
	for i := 0; i < w; i++ {
		for j := 0; j < c.K-1; j++ {
			st[j*w+i] = c.State0[(b*c.D+d0+i)*(c.K-1)+j]
		}
	}
	return true
}

// row returns the inputs at position p of row b, channels [d0, d1), as seen
// from a document that starts at start (−1: the carried state is visible),
// or nil when they are zero: before the document start, or before the
// sequence without a carried state. Negative p reads st from gatherState.
func (c *Conv1d) row(st []float32, hasState bool, b, p, start, d0, d1 int) []float32 {
	if start >= 0 && p < start {
		return nil
	}
	if p >= 0 {
		return c.X[(b*c.L+p)*c.D+d0 : (b*c.L+p)*c.D+d1]
	}
	if !hasState {
		return nil
	}
	w := d1 - d0
	return st[(c.K-1+p)*w : (c.K+p)*w]
}

// Backward computes the gradients from g.DY. Work is split over channel
// ranges, so DW and DBias need no cross-worker reduction; DW and DBias are
// summed over time in float32 per batch row, then over rows in float64.
// The inner loops run on the block kernels (conv_fused.go) and the
// element-wise vector kernels (vec.go), which sum in the same order.
func (c *Conv1d) Backward(g *Conv1dGrads) { c.backwardWith(vecInUse, g) }

// backwardWith is Backward with the block kernels of im.
func (c *Conv1d) backwardWith(im *vecImpl, g *Conv1dGrads) {
	c.check()
	n := c.B * c.L * c.D
	a := convArgs{c: *c, g: *g, im: im, backward: true}
	switch {
	case g.DU != nil && len(g.DU) < n:
		panic("kernels: conv1d backward: len(DU) too short")
	case g.DU == nil && len(g.DY) < n:
		panic("kernels: conv1d backward: len(DY) too short")
	case g.DU != nil && !c.siluFused(im):
		buf := getF32(n)
		defer putF32(buf)
		SiLUBackward(*buf, g.DU[:n], c.Y[:n])
		a.g.DY, a.g.DU = *buf, nil
	}
	nb := (c.D + convBlock - 1) / convBlock
	convTeam.run(nb, parts(nb, 1), a)
}

// backwardPart computes the gradients of channels [d0, d1), positions
// split between the block kernel and the row loop as in forwardPart.
func (c *Conv1d) backwardPart(im *vecImpl, g *Conv1dGrads, d0, d1 int) {
	B, D, K := c.B, c.D, c.K
	w := d1 - d0
	wTbuf := c.weightsT(d0, d1)
	defer putF32(wTbuf)
	f32 := getF32(3 * K * w)
	defer putF32(f32)
	p := &convPart{d0: d0, d1: d1, w: w, wT: *wTbuf,
		st:  (*f32)[:(K-1)*w],
		dst: (*f32)[(K-1)*w : 2*(K-1)*w],
		dWb: (*f32)[2*(K-1)*w : (3*K-2)*w],
		dBb: (*f32)[(3*K-2)*w : (3*K-1)*w],
		dyr: (*f32)[(3*K-1)*w : 3*K*w]}
	f64 := getF64(K*w + w)
	defer putF64(f64)
	dW := (*f64)[:K*w]    // (K, w), summed over b
	dBias := (*f64)[K*w:] // (w)
	var kern func(dx, dw, db, dy, du, yc, x, w *float32, n, ld, ldw int)
	if c.K <= convMaxK {
		kern = im.convBwd[c.K]
	}
	nf := blockChannels(kern != nil, w)
	for b := 0; b < B; b++ {
		p.hasState = c.gatherState(p.st, b, d0, d1)
		clear(p.dst)
		clear(p.dWb)
		clear(p.dBb)
		c.walkRow(b, nf, d0, d1,
			func(t0, t1 int) { c.backwardBlocks(kern, p, g, b, t0, t1, nf) },
			func(t, start, lo, hi int) { c.backwardRow(p, g, b, t, start, lo, hi) })
		for i, v := range p.dWb {
			dW[i] += float64(v)
		}
		for i, v := range p.dBb {
			dBias[i] += float64(v)
		}
		if g.DState0 != nil {
			for i := 0; i < w; i++ {
				for j := 0; j < K-1; j++ {
					g.DState0[(b*D+d0+i)*(K-1)+j] = p.dst[j*w+i]
				}
			}
		}
	}
	if g.DBias != nil {
		for i, v := range dBias {
			g.DBias[d0+i] = float32(v)
		}
	}
	if g.DW != nil {
		for i := 0; i < w; i++ {
			for k := 0; k < K; k++ {
				g.DW[(d0+i)*K+k] = float32(dW[k*w+i])
			}
		}
	}
}

// backwardRow adds the gradients of position t of row b, channels [lo,
// hi) ⊂ [p.d0, p.d1), to p's row sums, DX and p.dst, one vector kernel
// call per tap and sum. DX at t gets its first term here (tap K−1), so it
// is cleared here rather than in a pass of its own; the block kernels
// start the rows of their runs from zero the same way.
func (c *Conv1d) backwardRow(p *convPart, g *Conv1dGrads, b, t, start, lo, hi int) {
	if lo == hi {
		return
	}
	L, D, K, w := c.L, c.D, c.K, p.w
	i0, i1 := lo-p.d0, hi-p.d0
	if g.DX != nil {
		clear(g.DX[(b*L+t)*D+lo : (b*L+t)*D+hi])
	}
	r := (b*L + t) * D
	var dyr []float32
	if g.DU != nil {
		dyr = p.dyr[i0:i1]
		siluGradWith(scanDefault, dyr, g.DU[r+lo:r+hi], c.Y[r+lo:r+hi])
	} else {
		dyr = g.DY[r+lo : r+hi]
	}
	addTo(p.dBb[i0:i1], dyr)
	for k := 0; k < K; k++ {
		q := t - (K - 1) + k
		xr := c.row(p.st, p.hasState, b, q, start, p.d0, p.d1)
		if xr == nil {
			continue
		}
		mulAdd(p.dWb[k*w+i0:k*w+i1], dyr, xr[i0:i1])
		var dxr []float32
		switch {
		case q >= 0 && g.DX != nil:
			dxr = g.DX[(b*L+q)*D+lo : (b*L+q)*D+hi]
		case q < 0:
			dxr = p.dst[(K-1+q)*w+i0 : (K-1+q)*w+i1]
		default:
			continue
		}
		mulAdd(dxr, dyr, p.wT[k*w+i0:k*w+i1])
	}
}

// ForwardRef is the reference convolution: the full padded sequence built
// explicitly (state, then X, with masked taps), single-threaded, float64
// sums.
func (c *Conv1d) ForwardRef() {
	c.check()
	B, L, D, K := c.B, c.L, c.D, c.K
	for b := 0; b < B; b++ {
		for d := 0; d < D; d++ {
			// padded[j] is the input at position j−(K−1).
			padded := make([]float64, L+K-1)
			for j := 0; j < K-1 && c.State0 != nil; j++ {
				padded[j] = float64(c.State0[(b*D+d)*(K-1)+j])
			}
			for t := 0; t < L; t++ {
				padded[K-1+t] = float64(c.X[(b*L+t)*D+d])
			}
			for t := 0; t < L; t++ {
				start := c.docStart(b, t)
				var y float64
				if c.Bias != nil {
					y = float64(c.Bias[d])
				}
				for k := 0; k < K; k++ {
					p := t - (K - 1) + k
					if start >= 0 && p < start {
						continue
					}
					y += float64(c.W[d*K+k]) * padded[K-1+p]
				}
				c.Y[(b*L+t)*D+d] = float32(y)
			}
			if c.StateT != nil {
				start := c.docStart(b, L-1)
				for j := 0; j < K-1; j++ {
					p := L - (K - 1) + j
					v := padded[K-1+p]
					if start >= 0 && p < start {
						v = 0
					}
					c.StateT[(b*D+d)*(K-1)+j] = float32(v)
				}
			}
		}
	}
}
