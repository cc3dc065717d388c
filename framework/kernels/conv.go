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
//
// Shapes: X, Y (B, L, D); W (D, K); Bias (D); State0, StateT (B, D, K−1);
// Reset (B, L). Bias, State0, StateT and Reset are optional.
type Conv1d struct {
	B, L, D, K int

	X, W, Bias, State0 []float32
	Reset              []bool

	Y, StateT []float32
}

// Conv1dGrads are the gradients of a Conv1d. Backward overwrites DX (B, L,
// D), DW (D, K), DBias (D), DState0 (B, D, K−1); nil fields are skipped.
type Conv1dGrads struct {
	DY                     []float32
	DX, DW, DBias, DState0 []float32
}

func (c *Conv1d) check() {
	B, L, D, K := c.B, c.L, c.D, c.K
	if B < 0 || L < 0 || D < 0 || K < 1 {
		panic("kernels: conv1d: bad size")
	}
	short := func(x []float32, n int, opt bool) bool { return (x != nil || !opt) && len(x) < n }
	if short(c.X, B*L*D, false) || short(c.W, D*K, false) || short(c.Y, B*L*D, false) ||
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

// Forward computes Y and StateT. Work is split over channel ranges; each
// worker walks time with its range of channels contiguous, so the inner
// loops run over adjacent memory.
func (c *Conv1d) Forward() {
	c.check()
	convTeam.run(c.D, parts(c.D, 1), convArgs{c: *c})
}

// convArgs is a Conv1d.Forward call, or a Backward call when backward is
// set. Both structs travel by value, so the caller's do not escape.
type convArgs struct {
	c        Conv1d
	g        Conv1dGrads
	backward bool
}

var convTeam team[convArgs, *convArgs]

func (a *convArgs) part(_, d0, d1 int) {
	if a.backward {
		a.c.backwardPart(&a.g, d0, d1)
		return
	}
	a.c.forwardPart(d0, d1)
}

// forwardPart computes Y and StateT for channels [d0, d1).
func (c *Conv1d) forwardPart(d0, d1 int) {
	w := d1 - d0
	wTbuf := c.weightsT(d0, d1)
	defer putF32(wTbuf)
	wT := *wTbuf
	stBuf := getF32((c.K - 1) * w) // the carried inputs of row b, (K−1, w)
	defer putF32(stBuf)
	st := *stBuf
	for b := 0; b < c.B; b++ {
		hasState := c.gatherState(st, b, d0, d1)
		start := -1
		for t := 0; t < c.L; t++ {
			if c.Reset != nil && c.Reset[b*c.L+t] {
				start = t
			}
			out := c.Y[(b*c.L+t)*c.D+d0 : (b*c.L+t)*c.D+d1]
			if c.Bias != nil {
				copy(out, c.Bias[d0:d1])
			} else {
				clear(out)
			}
			for k := 0; k < c.K; k++ {
				xr := c.row(st, hasState, b, t-(c.K-1)+k, start, d0, d1)
				if xr == nil {
					continue
				}
				mulAdd(out, wT[k*w:(k+1)*w], xr)
			}
		}
		if c.StateT != nil {
			start := c.docStart(b, c.L-1)
			for j := 0; j < c.K-1; j++ {
				xr := c.row(st, hasState, b, c.L-(c.K-1)+j, start, d0, d1)
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
// The inner loops run on the element-wise vector kernels (vec.go).
func (c *Conv1d) Backward(g *Conv1dGrads) {
	c.check()
	if len(g.DY) < c.B*c.L*c.D {
		panic("kernels: conv1d backward: len(DY) too short")
	}
	convTeam.run(c.D, parts(c.D, 1), convArgs{c: *c, g: *g, backward: true})
}

// backwardPart computes the gradients of channels [d0, d1).
func (c *Conv1d) backwardPart(g *Conv1dGrads, d0, d1 int) {
	B, L, D, K := c.B, c.L, c.D, c.K
	w := d1 - d0
	wTbuf := c.weightsT(d0, d1)
	defer putF32(wTbuf)
	wT := *wTbuf
	f32 := getF32((3*K - 1) * w)
	defer putF32(f32)
	st := (*f32)[:(K-1)*w]
	dst := (*f32)[(K-1)*w : 2*(K-1)*w]   // gradient of st
	dWb := (*f32)[2*(K-1)*w : (3*K-2)*w] // (K, w), one row b's sum over t
	dBb := (*f32)[(3*K-2)*w : (3*K-1)*w] // (w), one row b's sum over t
	f64 := getF64(K*w + w)
	defer putF64(f64)
	dW := (*f64)[:K*w]    // (K, w), summed over b
	dBias := (*f64)[K*w:] // (w)
	if g.DX != nil {
		for r := 0; r < B*L; r++ {
			clear(g.DX[r*D+d0 : r*D+d1])
		}
	}
	for b := 0; b < B; b++ {
		hasState := c.gatherState(st, b, d0, d1)
		clear(dst)
		clear(dWb)
		clear(dBb)
		start := -1
		for t := 0; t < L; t++ {
			if c.Reset != nil && c.Reset[b*L+t] {
				start = t
			}
			dyr := g.DY[(b*L+t)*D+d0 : (b*L+t)*D+d1]
			addTo(dBb, dyr)
			for k := 0; k < K; k++ {
				p := t - (K - 1) + k
				xr := c.row(st, hasState, b, p, start, d0, d1)
				if xr == nil {
					continue
				}
				mulAdd(dWb[k*w:(k+1)*w], dyr, xr)
				var dxr []float32
				switch {
				case p >= 0 && g.DX != nil:
					dxr = g.DX[(b*L+p)*D+d0 : (b*L+p)*D+d1]
				case p < 0:
					dxr = dst[(K-1+p)*w : (K+p)*w]
				default:
					continue
				}
				mulAdd(dxr, dyr, wT[k*w:(k+1)*w])
			}
		}
		for i, v := range dWb {
			dW[i] += float64(v)
		}
		for i, v := range dBb {
			dBias[i] += float64(v)
		}
		if g.DState0 != nil {
			for i := 0; i < w; i++ {
				for j := 0; j < K-1; j++ {
					g.DState0[(b*D+d0+i)*(K-1)+j] = dst[j*w+i]
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
