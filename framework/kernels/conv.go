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

// input returns X at position p of row b, channel d (p may be negative: the
// carried state), and whether that input is visible from a document that
// starts at start.
func (c *Conv1d) input(b, p, d, start int) (float32, bool) {
	if start >= 0 && p < start {
		return 0, false
	}
	if p >= 0 {
		return c.X[(b*c.L+p)*c.D+d], true
	}
	if c.State0 == nil {
		return 0, false
	}
	return c.State0[(b*c.D+d)*(c.K-1)+c.K-1+p], true
}

// Forward computes Y and StateT. Work is split over channels.
func (c *Conv1d) Forward() {
	c.check()
	parallel(c.D, parts(c.D, 1), func(_, d0, d1 int) {
		for b := 0; b < c.B; b++ {
			start := -1
			for t := 0; t < c.L; t++ {
				if c.Reset != nil && c.Reset[b*c.L+t] {
					start = t
				}
				for d := d0; d < d1; d++ {
					var y float32
					if c.Bias != nil {
						y = c.Bias[d]
					}
					w := c.W[d*c.K : (d+1)*c.K]
					for k, wk := range w {
						if x, ok := c.input(b, t-(c.K-1)+k, d, start); ok {
							y += wk * x
						}
					}
					c.Y[(b*c.L+t)*c.D+d] = y
				}
			}
			if c.StateT != nil {
				start := c.docStart(b, c.L-1)
				for d := d0; d < d1; d++ {
					for j := 0; j < c.K-1; j++ {
						x, _ := c.input(b, c.L-(c.K-1)+j, d, start)
						c.StateT[(b*c.D+d)*(c.K-1)+j] = x
					}
				}
			}
		}
	})
}

// Backward computes the gradients from g.DY. Work is split over channels,
// so DW and DBias need no cross-worker reduction.
func (c *Conv1d) Backward(g *Conv1dGrads) {
	c.check()
	B, L, D, K := c.B, c.L, c.D, c.K
	if len(g.DY) < B*L*D {
		panic("kernels: conv1d backward: len(DY) too short")
	}
	parallel(D, parts(D, 1), func(_, d0, d1 int) {
		for d := d0; d < d1; d++ {
			var dBias float64
			dW := make([]float64, K)
			for b := 0; b < B; b++ {
				if g.DX != nil {
					for t := 0; t < L; t++ {
						g.DX[(b*L+t)*D+d] = 0
					}
				}
				if g.DState0 != nil {
					clear(g.DState0[(b*D+d)*(K-1) : (b*D+d+1)*(K-1)])
				}
				start := -1
				for t := 0; t < L; t++ {
					if c.Reset != nil && c.Reset[b*L+t] {
						start = t
					}
					dy := g.DY[(b*L+t)*D+d]
					dBias += float64(dy)
					for k := 0; k < K; k++ {
						p := t - (K - 1) + k
						x, ok := c.input(b, p, d, start)
						if !ok {
							continue
						}
						dW[k] += float64(dy * x)
						wk := c.W[d*K+k]
						if p >= 0 {
							if g.DX != nil {
								g.DX[(b*L+p)*D+d] += dy * wk
							}
						} else if g.DState0 != nil {
							g.DState0[(b*D+d)*(K-1)+K-1+p] += dy * wk
						}
					}
				}
			}
			if g.DBias != nil {
				g.DBias[d] = float32(dBias)
			}
			if g.DW != nil {
				for k := range dW {
					g.DW[d*K+k] = float32(dW[k])
				}
			}
		}
	})
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
