package kernels

import (
	"math"
	"math/cmplx"
)

// The complex scan (Scan.AImag non-nil): the fused recurrence of
// scan_fused.go with complex A, B, C and states, for every (b, d):
//
//	Ā[t,n] = exp(Δ[t]·(A[d,n] + i·AImag[d,n]))
//	h[t,n] = Ā[t,n]·h[t-1,n] + Δ[t]·u[t]·(B[t,n] + i·BImag[t,n])
//	y[t]   = 2·Re(Σ_n (C[t,n] + i·CImag[t,n])·h[t,n]) + D·u[t]
//
// Work is split over channel ranges (at the SIMD group boundaries of the
// implementation in use); the gradients of an input-dependent B and C,
// which sum over channels, are kept per worker and added in worker order.
// Backward recomputes each chunk of ScanChunk steps from the state saved at
// its start, like the real scan. On amd64 the AVX-512 or AVX2 kernels of
// scan_complex_amd64.go run the full channel groups (complexDefault); the
// Go code here runs the rest, and everything under MAMBAKIT_KERNEL=go,
// -tags purego or another architecture.

// cstate reads the complex state n of a (2N) slice: N real parts, then N
// imaginary parts.
func cstate(h []float32, n, N int) (float32, float32) { return h[n], h[N+n] }

// cAbar returns Ā = exp(dt·(ar + i·ai)).
func cAbar(dt, ar, ai float32) (float32, float32) {
	e := math.Exp(float64(dt * ar))
	sn, cs := math.Sincos(float64(dt * ai))
	return float32(e * cs), float32(e * sn)
}

func (s *Scan) imag(x []float32, i int) float32 {
	if x == nil {
		return 0
	}
	return x[i]
}

// complexImpl is one implementation of the complex scan: the fused Go
// code, or the assembly kernels of scan_complex_amd64.go, which work on
// groups of width channels (the rest of a range runs in Go).
type complexImpl struct {
	name      string
	width     int                                                     // channels per group (1 for Go)
	available bool                                                    // this CPU can run it
	fwd       func(s *Scan, d0, d1 int)                               // channels [d0, d1), every batch row
	bwd       func(s *Scan, g *ScanGrads, d0, d1 int, part []float32) // part (B·L, 4N): this worker's dB, dC sums
	cis       func(re, im, dt, ar, ai []float32)                      // the kernels' Ā (tests), or nil
}

var complexGoImpl = &complexImpl{name: "go", width: 1, available: true,
	fwd: func(s *Scan, d0, d1 int) { s.complexForwardRange(d0, d1) },
	bwd: func(s *Scan, g *ScanGrads, d0, d1 int, part []float32) { s.complexBackwardRange(g, d0, d1, part) }}

// complexDefault is what Scan.Forward and Backward run on a complex scan
// (registry.go: the fastest available, or as MAMBAKIT_KERNEL picks; "go"
// forces the fused Go code).
var complexDefault = complexImplNamed(kernelsInUse.complex)

func complexImplNamed(name string) *complexImpl {
	for _, im := range complexImpls {
		if im.name == name && im.available {
			return im
		}
	}
	panic("kernels: no complex scan implementation " + name + " on this machine")
}

// ComplexScanImpls returns the names of the complex scan implementations
// this CPU can run, slowest first.
func ComplexScanImpls() []string {
	var names []string
	for _, im := range complexImpls {
		if im.available {
			names = append(names, im.name)
		}
	}
	return names
}

// complexSplit runs fn over channel ranges of p workers, split at group
// boundaries of width w (the last worker also takes the D mod w channels
// left over), and returns p.
func (s *Scan) complexSplit(w int, fn func(k, d0, d1 int)) int {
	G := max(s.D/w, 1)
	p := parts(G, 1)
	parallel(G, p, func(k, g0, g1 int) {
		d0, d1 := min(g0*w, s.D), min(g1*w, s.D)
		if k == p-1 {
			d1 = s.D
		}
		fn(k, d0, d1)
	})
	return p
}

func (s *Scan) complexForward() { s.complexForwardWith(complexDefault) }

func (s *Scan) complexForwardWith(im *complexImpl) {
	s.complexSplit(im.width, func(_, d0, d1 int) { im.fwd(s, d0, d1) })
}

func (s *Scan) complexForwardRange(d0, d1 int) {
	B, L, D, N := s.B, s.L, s.D, s.N
	nc := chunks(L)
	h := make([]float32, 2*N)
	for b := 0; b < B; b++ {
		for d := d0; d < d1; d++ {
			if s.H0 != nil {
				copy(h, s.H0[(b*D+d)*2*N:(b*D+d+1)*2*N])
			} else {
				clear(h)
			}
			for t := 0; t < L; t++ {
				if s.Saved != nil && t%ScanChunk == 0 {
					copy(s.Saved[((b*nc+t/ScanChunk)*D+d)*2*N:], h)
				}
				if s.Reset != nil && s.Reset[b*L+t] {
					clear(h)
				}
				i := (b*L+t)*D + d
				u := s.U[i]
				dt := Softplus(s.Delta[i] + s.bias(d))
				ib, ic := s.bIndex(s.BPerChannel, b, t, d), s.bIndex(s.CPerChannel, b, t, d)
				x := dt * u
				var y float32
				for n := 0; n < N; n++ {
					ar, ai := cAbar(dt, s.A[d*N+n], s.AImag[d*N+n])
					hr, hi := cstate(h, n, N)
					br, bi := s.Bm[ib+n], s.imag(s.BImag, ib+n)
					nr := ar*hr - ai*hi + x*br
					ni := ar*hi + ai*hr + x*bi
					h[n], h[N+n] = nr, ni
					y += 2 * (s.Cm[ic+n]*nr - s.imag(s.CImag, ic+n)*ni)
				}
				y += s.skip(d) * u
				if s.Z != nil {
					y *= SiLU(s.Z[i])
				}
				s.Y[i] = y
			}
			if s.HT != nil {
				copy(s.HT[(b*D+d)*2*N:], h)
			}
		}
	}
}

// complexForwardRef is the reference for the complex forward pass: the
// recurrence in complex128, one (b, d) at a time.
func (s *Scan) complexForwardRef() {
	B, L, D, N := s.B, s.L, s.D, s.N
	h := make([]complex128, N)
	for b := 0; b < B; b++ {
		for d := 0; d < D; d++ {
			for n := range h {
				h[n] = 0
				if s.H0 != nil {
					h[n] = complex(float64(s.H0[(b*D+d)*2*N+n]), float64(s.H0[(b*D+d)*2*N+N+n]))
				}
			}
			for t := 0; t < L; t++ {
				if s.reset(b, t) {
					clear(h)
				}
				i := (b*L+t)*D + d
				u := float64(s.U[i])
				dt := float64(Softplus(s.Delta[i] + s.bias(d)))
				ib, ic := s.bIndex(s.BPerChannel, b, t, d), s.bIndex(s.CPerChannel, b, t, d)
				var y float64
				for n := range h {
					a := complex(float64(s.A[d*N+n]), float64(s.AImag[d*N+n]))
					bb := complex(float64(s.Bm[ib+n]), float64(s.imag(s.BImag, ib+n)))
					cc := complex(float64(s.Cm[ic+n]), float64(s.imag(s.CImag, ic+n)))
					h[n] = cmplx.Exp(complex(dt, 0)*a)*h[n] + complex(dt*u, 0)*bb
					y += 2 * real(cc*h[n])
				}
				y += float64(s.skip(d)) * u
				if s.Z != nil {
					y *= float64(SiLU(s.Z[i]))
				}
				s.Y[i] = float32(y)
			}
			if s.HT != nil {
				for n := range h {
					s.HT[(b*D+d)*2*N+n] = float32(real(h[n]))
					s.HT[(b*D+d)*2*N+N+n] = float32(imag(h[n]))
				}
			}
		}
	}
}

// complexBackward computes the gradients of a complex scan. With complex
// gradients g = ∂L/∂Re + i·∂L/∂Im, one step back through
// h' = Ā·h + x·B and y = 2·Re(C·h') is: g_h' += 2·gy·conj(C),
// dC = 2·gy·conj(h'), dB = x·g_h', dx = Re(g_h'·conj(B)),
// dĀ = g_h'·conj(h), g_h = conj(Ā)·g_h', and through Ā = exp(Δ·A):
// g_{ΔA} = conj(Ā)·dĀ, so dA = Δ·g_{ΔA} and dΔ += Re(g_{ΔA}·conj(A)).
func (s *Scan) complexBackward(g *ScanGrads) { s.complexBackwardWith(complexDefault, g) }

func (s *Scan) complexBackwardWith(im *complexImpl, g *ScanGrads) {
	B, L, D, N := s.B, s.L, s.D, s.N
	p := parts(max(D/im.width, 1), 1)
	rows := B * L
	// Per-worker sums over channels of an input-dependent B and C: (p, B·L,
	// 4N): dB real, dB imaginary, dC real, dC imaginary.
	partBuf := getF32(p * rows * 4 * N)
	defer putF32(partBuf)
	part := *partBuf
	s.complexSplit(im.width, func(w, d0, d1 int) {
		im.bwd(s, g, d0, d1, part[w*rows*4*N:(w+1)*rows*4*N])
	})
	write := func(dst []float32, off int, perChannel bool) {
		if dst == nil || perChannel {
			return
		}
		for r := 0; r < rows; r++ {
			for n := 0; n < N; n++ {
				var v float32
				for w := 0; w < p; w++ {
					v += part[(w*rows+r)*4*N+off*N+n]
				}
				dst[r*N+n] = v
			}
		}
	}
	write(g.DBm, 0, s.BPerChannel)
	write(g.DBImag, 1, s.BPerChannel)
	write(g.DCm, 2, s.CPerChannel)
	write(g.DCImag, 3, s.CPerChannel)
}

func (s *Scan) complexBackwardRange(g *ScanGrads, d0, d1 int, part []float32) {
	B, L, D, N := s.B, s.L, s.D, s.N
	K := ScanChunk
	nc := chunks(L)
	hs := make([]float32, (K+1)*2*N) // states of the chunk; row 0 is the state before it
	abar := make([]float32, K*2*N)   // Ā of the chunk: real parts, then imaginary
	dts := make([]float32, K)
	gh := make([]float32, 2*N)
	dAr, dAi := make([]float64, N), make([]float64, N)
	rowB, rowC := make([]float32, 2*N), make([]float32, 2*N) // this step's dB, dC (re, im)
	dBd, dCd := make([]float64, 2*N), make([]float64, 2*N)   // per-channel sums
	for d := d0; d < d1; d++ {
		clear(dAr)
		clear(dAi)
		clear(dBd)
		clear(dCd)
		var dSkip, dBias float64
		skip, bias := s.skip(d), s.bias(d)
		for b := 0; b < B; b++ {
			if g.DHT != nil {
				copy(gh, g.DHT[(b*D+d)*2*N:(b*D+d+1)*2*N])
			} else {
				clear(gh)
			}
			for c := nc - 1; c >= 0; c-- {
				t0, t1 := c*K, min(L, c*K+K)
				copy(hs[:2*N], s.Saved[((b*nc+c)*D+d)*2*N:((b*nc+c)*D+d+1)*2*N])
				for t := t0; t < t1; t++ { // recompute the chunk
					i := (b*L+t)*D + d
					dt := Softplus(s.Delta[i] + bias)
					dts[t-t0] = dt
					x := dt * s.U[i]
					ib := s.bIndex(s.BPerChannel, b, t, d)
					prev, cur := hs[(t-t0)*2*N:(t-t0+1)*2*N], hs[(t-t0+1)*2*N:(t-t0+2)*2*N]
					ab := abar[(t-t0)*2*N : (t-t0+1)*2*N]
					reset := s.reset(b, t)
					for n := 0; n < N; n++ {
						ar, ai := cAbar(dt, s.A[d*N+n], s.AImag[d*N+n])
						ab[n], ab[N+n] = ar, ai
						hr, hi := prev[n], prev[N+n]
						if reset {
							hr, hi = 0, 0
						}
						cur[n] = ar*hr - ai*hi + x*s.Bm[ib+n]
						cur[N+n] = ar*hi + ai*hr + x*s.imag(s.BImag, ib+n)
					}
				}
				for t := t1 - 1; t >= t0; t-- {
					i := (b*L+t)*D + d
					u, dt := s.U[i], dts[t-t0]
					x := dt * u
					ib, ic := s.bIndex(s.BPerChannel, b, t, d), s.bIndex(s.CPerChannel, b, t, d)
					prev, cur := hs[(t-t0)*2*N:(t-t0+1)*2*N], hs[(t-t0+1)*2*N:(t-t0+2)*2*N]
					ab := abar[(t-t0)*2*N : (t-t0+1)*2*N]
					reset := s.reset(b, t)
					gy := g.DY[i]
					if s.Z != nil {
						var y float32
						for n := 0; n < N; n++ {
							y += 2 * (s.Cm[ic+n]*cur[n] - s.imag(s.CImag, ic+n)*cur[N+n])
						}
						y += skip * u
						if g.DZ != nil {
							g.DZ[i] = gy * y * siluGrad(s.Z[i])
						}
						gy *= SiLU(s.Z[i])
					}
					dSkip += float64(gy * u)
					du := gy * skip
					var dx, ddt float64
					for n := 0; n < N; n++ {
						cr, ci := s.Cm[ic+n], s.imag(s.CImag, ic+n)
						hr, hi := cur[n], cur[N+n]
						rowC[n], rowC[N+n] = 2*gy*hr, -2*gy*hi
						gr := gh[n] + 2*gy*cr
						gi := gh[N+n] - 2*gy*ci
						br, bi := s.Bm[ib+n], s.imag(s.BImag, ib+n)
						rowB[n], rowB[N+n] = x*gr, x*gi
						dx += float64(gr*br + gi*bi)
						if reset {
							gh[n], gh[N+n] = 0, 0
							continue
						}
						pr, pi := prev[n], prev[N+n]
						ar, ai := ab[n], ab[N+n]
						// dĀ = g·conj(h_prev); g_{ΔA} = conj(Ā)·dĀ.
						dAbr, dAbi := gr*pr+gi*pi, gi*pr-gr*pi
						gre, gim := ar*dAbr+ai*dAbi, ar*dAbi-ai*dAbr
						dAr[n] += float64(gre * dt)
						dAi[n] += float64(gim * dt)
						ddt += float64(gre*s.A[d*N+n] + gim*s.AImag[d*N+n])
						// g_h = conj(Ā)·g.
						gh[n], gh[N+n] = ar*gr+ai*gi, ar*gi-ai*gr
					}
					s.addBC(part, rowB, dBd, 0, s.BPerChannel, b, t, N)
					s.addBC(part, rowC, dCd, 2, s.CPerChannel, b, t, N)
					du += float32(dx) * dt
					ddt += dx * float64(u)
					if g.DU != nil {
						g.DU[i] = du
					}
					raw := float32(ddt) * softplusGrad(s.Delta[i]+bias)
					if g.DDelta != nil {
						g.DDelta[i] = raw
					}
					dBias += float64(raw)
				}
			}
			if g.DH0 != nil {
				copy(g.DH0[(b*D+d)*2*N:], gh)
			}
		}
		for n := 0; n < N; n++ {
			set(g.DA, d*N+n, dAr[n])
			set(g.DAImag, d*N+n, dAi[n])
			if s.BPerChannel {
				set(g.DBm, d*N+n, dBd[n])
				set(g.DBImag, d*N+n, dBd[N+n])
			}
			if s.CPerChannel {
				set(g.DCm, d*N+n, dCd[n])
				set(g.DCImag, d*N+n, dCd[N+n])
			}
		}
		set(g.DDskip, d, dSkip)
		set(g.DDeltaBias, d, dBias)
	}
}

// addBC adds one step's dB or dC (row: N real, N imaginary parts) to the
// worker's partial sums over channels (block off of part's 4N per row) or,
// per channel, to that channel's float64 sums.
func (s *Scan) addBC(part, row []float32, perCh []float64, off int, perChannel bool, b, t, N int) {
	if perChannel {
		for k, v := range row {
			perCh[k] += float64(v)
		}
		return
	}
	q := part[(b*s.L+t)*4*N+off*N : (b*s.L+t)*4*N+(off+2)*N]
	for k, v := range row {
		q[k] += v
	}
}

func set(dst []float32, i int, v float64) {
	if dst != nil {
		dst[i] = float32(v)
	}
}
