package kernels

// This file is the reference scan: the computation written out the way
// selective_scan_ref in state-spaces/mamba does it (the paper's "standard
// scan"): discretize into tensors of size B·L·D·N, run the recurrence over
// them, contract with C. It allocates those tensors on every call, is
// single-threaded, and sums in float64. The tests check the fused kernel
// against it; `mambakit bench scan` times it as the baseline.

// ForwardRef computes the same outputs as Forward (Y, HT; it leaves Saved
// alone) with the materializing reference algorithm.
func (s *Scan) ForwardRef() {
	s.check()
	if s.AImag != nil {
		s.complexForwardRef()
		return
	}
	m := s.materialize()
	B, L, D, N := s.B, s.L, s.D, s.N
	for b := 0; b < B; b++ {
		for t := 0; t < L; t++ {
			for d := 0; d < D; d++ {
				i := (b*L+t)*D + d
				var y float64
				for n := 0; n < N; n++ {
					y += float64(s.Cm[s.bIndex(s.CPerChannel, b, t, d)+n]) * float64(m.h[i*N+n])
				}
				y += float64(s.skip(d)) * float64(s.U[i])
				if s.Z != nil {
					y *= float64(SiLU(s.Z[i]))
				}
				s.Y[i] = float32(y)
			}
		}
	}
	if s.HT != nil && L > 0 {
		for b := 0; b < B; b++ {
			for d := 0; d < D; d++ {
				copy(s.HT[(b*D+d)*N:(b*D+d+1)*N], m.h[((b*L+L-1)*D+d)*N:])
			}
		}
	} else if s.HT != nil {
		s.copyH0(s.HT)
	}
}

// BackwardRef computes the same gradients as Backward with the
// materializing reference algorithm. It does not need Saved.
//
// A complex scan has no materializing backward: BackwardRef runs the fused
// complex backward, which the tests check against finite differences of
// the complex128 reference forward.
func (s *Scan) BackwardRef(g *ScanGrads) {
	s.check()
	if s.AImag != nil {
		g.check(s)
		s.complexBackward(g)
		return
	}
	saved := s.Saved
	s.Saved = []float32{} // g.check wants a non-nil Saved; the reference ignores it
	g.check(s)
	s.Saved = saved
	m := s.materialize()
	B, L, D, N := s.B, s.L, s.D, s.N
	// gy (B, L, D): gradient w.r.t. the ungated output.
	gy := make([]float64, B*L*D)
	for i := range gy {
		gy[i] = float64(g.DY[i])
		if s.Z != nil {
			var y float64
			b, t, d := i/(L*D), i/D%L, i%D
			for n := 0; n < N; n++ {
				y += float64(s.Cm[s.bIndex(s.CPerChannel, b, t, d)+n]) * float64(m.h[i*N+n])
			}
			y += float64(s.skip(d)) * float64(s.U[i])
			z := s.Z[i]
			if g.DZ != nil {
				g.DZ[i] = float32(gy[i] * y * float64(siluGrad(z)))
			}
			gy[i] *= float64(SiLU(z))
		}
	}
	// dH (B, L, D, N): gradient w.r.t. every state, by the reverse recurrence.
	dH := make([]float64, B*L*D*N)
	for b := 0; b < B; b++ {
		for d := 0; d < D; d++ {
			for n := 0; n < N; n++ {
				var carry float64
				if g.DHT != nil {
					carry = float64(g.DHT[(b*D+d)*N+n])
				}
				for t := L - 1; t >= 0; t-- {
					i := (b*L+t)*D + d
					v := carry + gy[i]*float64(s.Cm[s.bIndex(s.CPerChannel, b, t, d)+n])
					dH[i*N+n] = v
					if s.reset(b, t) {
						carry = 0
					} else {
						carry = v * float64(m.dA[i*N+n])
					}
				}
				if g.DH0 != nil {
					g.DH0[(b*D+d)*N+n] = float32(carry)
				}
			}
		}
	}
	dA := make([]float64, D*N)
	dSkip := make([]float64, D)
	dBias := make([]float64, D)
	dBm := make([]float64, s.bLen(s.BPerChannel))
	dCm := make([]float64, s.bLen(s.CPerChannel))
	for b := 0; b < B; b++ {
		for t := 0; t < L; t++ {
			for d := 0; d < D; d++ {
				i := (b*L+t)*D + d
				dt := float64(m.dt[i])
				u := float64(s.U[i])
				du := gy[i] * float64(s.skip(d))
				dSkip[d] += gy[i] * u
				var ddt float64
				for n := 0; n < N; n++ {
					k := i*N + n
					ib, ic := s.bIndex(s.BPerChannel, b, t, d)+n, s.bIndex(s.CPerChannel, b, t, d)+n
					bn := float64(s.Bm[ib])
					dCm[ic] += gy[i] * float64(m.h[k])
					dBm[ib] += dH[k] * dt * u
					du += dH[k] * dt * bn
					ddt += dH[k] * bn * u
					if !s.reset(b, t) {
						x := dH[k] * float64(m.dA[k]) * m.prev(s, b, t, d, n)
						ddt += x * float64(s.A[d*N+n])
						dA[d*N+n] += x * dt
					}
				}
				raw := ddt * float64(softplusGrad(s.Delta[i]+s.bias(d)))
				dBias[d] += raw
				if g.DU != nil {
					g.DU[i] = float32(du)
				}
				if g.DDelta != nil {
					g.DDelta[i] = float32(raw)
				}
			}
		}
	}
	store := func(dst []float32, src []float64) {
		if dst != nil {
			for i, v := range src {
				dst[i] = float32(v)
			}
		}
	}
	store(g.DA, dA)
	store(g.DDskip, dSkip)
	store(g.DDeltaBias, dBias)
	store(g.DBm, dBm)
	store(g.DCm, dCm)
}

// materialized holds the reference's full tensors: dt (B, L, D) and
// dA = exp(Δ·A), h (B, L, D, N).
type materialized struct {
	dt    []float32
	dA, h []float32
}

func (m *materialized) prev(s *Scan, b, t, d, n int) float64 {
	if t == 0 {
		if s.H0 == nil {
			return 0
		}
		return float64(s.H0[(b*s.D+d)*s.N+n])
	}
	return float64(m.h[((b*s.L+t-1)*s.D+d)*s.N+n])
}

func (s *Scan) materialize() *materialized {
	B, L, D, N := s.B, s.L, s.D, s.N
	m := &materialized{
		dt: make([]float32, B*L*D),
		dA: make([]float32, B*L*D*N),
		h:  make([]float32, B*L*D*N),
	}
	dBu := make([]float32, B*L*D*N)
	for b := 0; b < B; b++ {
		for t := 0; t < L; t++ {
			for d := 0; d < D; d++ {
				i := (b*L+t)*D + d
				dt := Softplus(s.Delta[i] + s.bias(d))
				m.dt[i] = dt
				for n := 0; n < N; n++ {
					m.dA[i*N+n] = exp32(dt * s.A[d*N+n])
					dBu[i*N+n] = dt * s.Bm[s.bIndex(s.BPerChannel, b, t, d)+n] * s.U[i]
				}
			}
		}
	}
	for b := 0; b < B; b++ {
		for t := 0; t < L; t++ {
			for d := 0; d < D; d++ {
				i := (b*L+t)*D + d
				for n := 0; n < N; n++ {
					var hp float64
					if !s.reset(b, t) {
						hp = m.prev(s, b, t, d, n)
					}
					m.h[i*N+n] = float32(float64(m.dA[i*N+n])*hp + float64(dBu[i*N+n]))
				}
			}
		}
	}
	return m
}

// bIndex is the offset of B (or C) at (b, t, d): per channel (D, N), or
// input-dependent (B, L, N).
func (s *Scan) bIndex(perChannel bool, b, t, d int) int {
	if perChannel {
		return d * s.N
	}
	return (b*s.L + t) * s.N
}

func (s *Scan) reset(b, t int) bool { return s.Reset != nil && s.Reset[b*s.L+t] }

func (s *Scan) bias(d int) float32 {
	if s.DeltaBias == nil {
		return 0
	}
	return s.DeltaBias[d]
}

func (s *Scan) skip(d int) float32 {
	if s.Dskip == nil {
		return 0
	}
	return s.Dskip[d]
}

func (s *Scan) copyH0(dst []float32) {
	if s.H0 == nil {
		clear(dst[:s.B*s.D*s.N])
		return
	}
	copy(dst, s.H0[:s.B*s.D*s.N])
}
