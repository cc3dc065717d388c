package kernels

import "math"

// This file is the fused scan: one pass per (b, d) over time with the state
// h (N values) kept local, nothing of size B·L·D·N allocated. The backward
// pass walks the chunks of ScanChunk steps in reverse, recomputes the states
// of a chunk from the one saved by the forward pass, then runs the adjoint
// recurrence backwards through the chunk.

// scanForwardRange runs batch rows [b0, b1) and channels [d0, d1).
func scanForwardRange(s *Scan, b0, b1, d0, d1 int) {
	L, D, N := s.L, s.D, s.N
	hBuf := getF32(N)
	defer putF32(hBuf)
	h := *hBuf
	nc := chunks(L)
	for b := b0; b < b1; b++ {
		for d := d0; d < d1; d++ {
			if s.H0 != nil {
				copy(h, s.H0[(b*D+d)*N:(b*D+d+1)*N])
			} else {
				clear(h)
			}
			a := s.A[d*N : (d+1)*N]
			bias, skip := s.bias(d), s.skip(d)
			for t := 0; t < L; t++ {
				if s.Saved != nil && t%ScanChunk == 0 {
					sv := s.Saved[(b*nc+t/ScanChunk)*N*D+d:]
					for n, v := range h {
						sv[n*D] = v
					}
				}
				if s.Reset != nil && s.Reset[b*L+t] {
					clear(h)
				}
				i := (b*L+t)*D + d
				u := s.U[i]
				dt := Softplus(s.Delta[i] + bias)
				bm := s.bRow(s.Bm, s.BPerChannel, b, t, d)
				cm := s.bRow(s.Cm, s.CPerChannel, b, t, d)
				dtu := dt * u
				var y float32
				for n := range h {
					hn := exp32(dt*a[n])*h[n] + dtu*bm[n]
					h[n] = hn
					y += cm[n] * hn
				}
				y += skip * u
				if s.Z != nil {
					y *= SiLU(s.Z[i])
				}
				s.Y[i] = y
			}
			if s.HT != nil {
				copy(s.HT[(b*D+d)*N:], h)
			}
		}
	}
}

// scanBackwardRange computes the gradients for batch rows [b0, b1) and
// channels [d0, d1). part (B, L, 2N) receives this worker's partial sums
// of dB (first N) and dC; acc its sums over b and t of dA, dD, dΔbias.
func scanBackwardRange(s *Scan, g *ScanGrads, b0, b1, d0, d1 int, part []float32, acc *scanAcc) {
	L, D, N := s.L, s.D, s.N
	K := ScanChunk
	nc := chunks(L)
	f32 := getF32(2*K*N + K + 4*N)
	defer putF32(f32)
	f64 := getF64(3 * N)
	defer putF64(f64)
	x, y := *f32, *f64
	saved := x[:N]                       // the state saved at the start of the chunk
	hs := x[N : N+K*N]                   // states h[t] of the chunk being walked
	as := x[N+K*N : N+2*K*N]             // Ā[t,n] of the chunk
	dts := x[N+2*K*N : N+2*K*N+K]        // Δ[t] of the chunk
	dh := x[N+2*K*N+K : 2*N+2*K*N+K]     // gradient of the state
	rowB := x[2*N+2*K*N+K : 3*N+2*K*N+K] // per-channel dB, dC of one step
	rowC := x[3*N+2*K*N+K : 4*N+2*K*N+K]
	dA, dBd, dCd := y[:N], y[N:2*N], y[2*N:3*N] // dA, and the sums of rowB, rowC over b and t
	for d := d0; d < d1; d++ {
		a := s.A[d*N : (d+1)*N]
		bias, skip := s.bias(d), s.skip(d)
		clear(dA)
		clear(dBd)
		clear(dCd)
		var dSkip, dBias float64
		for b := b0; b < b1; b++ {
			if g.DHT != nil {
				copy(dh, g.DHT[(b*D+d)*N:(b*D+d+1)*N])
			} else {
				clear(dh)
			}
			for c := nc - 1; c >= 0; c-- {
				t0 := c * K
				t1 := min(L, t0+K)
				sv := s.Saved[(b*nc+c)*N*D+d:]
				for n := range saved {
					saved[n] = sv[n*D]
				}
				// Recompute Δ, Ā and h over the chunk.
				prev := saved
				for t := t0; t < t1; t++ {
					i := (b*L+t)*D + d
					dt := Softplus(s.Delta[i] + bias)
					dts[t-t0] = dt
					dtu := dt * s.U[i]
					bm := s.bRow(s.Bm, s.BPerChannel, b, t, d)
					ht := hs[(t-t0)*N : (t-t0+1)*N]
					at := as[(t-t0)*N : (t-t0+1)*N]
					reset := s.Reset != nil && s.Reset[b*L+t]
					for n := 0; n < N; n++ {
						an := exp32(dt * a[n])
						at[n] = an
						hp := prev[n]
						if reset {
							hp = 0
						}
						ht[n] = an*hp + dtu*bm[n]
					}
					prev = ht
				}
				// Adjoint recurrence, t from t1-1 down to t0.
				for t := t1 - 1; t >= t0; t-- {
					i := (b*L+t)*D + d
					u := s.U[i]
					dt := dts[t-t0]
					ht := hs[(t-t0)*N : (t-t0+1)*N]
					at := as[(t-t0)*N : (t-t0+1)*N]
					hprev := saved
					if t > t0 {
						hprev = hs[(t-t0-1)*N : (t-t0)*N]
					}
					reset := s.Reset != nil && s.Reset[b*L+t]
					bm := s.bRow(s.Bm, s.BPerChannel, b, t, d)
					cm := s.bRow(s.Cm, s.CPerChannel, b, t, d)
					// dB and dC of this step: into the worker's (B, L, 2N)
					// partial sums, or, per channel, into this channel's
					// float64 sums over b and t (through a zeroed row).
					pb := part[(b*L+t)*2*N : (b*L+t)*2*N+N]
					pc := part[(b*L+t)*2*N+N : (b*L+t+1)*2*N]
					if s.BPerChannel {
						pb = rowB
						clear(pb)
					}
					if s.CPerChannel {
						pc = rowC
						clear(pc)
					}

					gy := g.DY[i]
					if s.Z != nil {
						// Recompute the ungated output for dZ.
						var y float32
						for n := 0; n < N; n++ {
							y += cm[n] * ht[n]
						}
						y += skip * u
						z := s.Z[i]
						if g.DZ != nil {
							g.DZ[i] = gy * y * siluGrad(z)
						}
						gy *= SiLU(z)
					}
					dSkip += float64(gy * u)
					du := gy * skip
					var ddt float64 // sums terms of both signs: keep it in float64
					dtu := dt * u
					for n := 0; n < N; n++ {
						pc[n] += gy * ht[n]
						dhn := dh[n] + gy*cm[n]
						pb[n] += dhn * dtu
						du += dhn * dt * bm[n]
						ddt += float64(dhn * bm[n] * u)
						if reset {
							dh[n] = 0
							continue
						}
						// d/dΔ of Ā·h[t-1] = A·Ā·h[t-1]; d/dA = Δ·Ā·h[t-1].
						x := dhn * at[n] * hprev[n]
						ddt += float64(x * a[n])
						dA[n] += float64(x * dt)
						dh[n] = dhn * at[n]
					}
					if s.BPerChannel {
						for n, v := range rowB {
							dBd[n] += float64(v)
						}
					}
					if s.CPerChannel {
						for n, v := range rowC {
							dCd[n] += float64(v)
						}
					}
					if g.DU != nil {
						g.DU[i] = du
					}
					dRaw := float32(ddt) * softplusGrad(s.Delta[i]+bias)
					if g.DDelta != nil {
						g.DDelta[i] = dRaw
					}
					dBias += float64(dRaw)
				}
			}
			if g.DH0 != nil {
				copy(g.DH0[(b*D+d)*N:], dh)
			}
		}
		for n := 0; n < N; n++ {
			acc.dA[d*N+n] += dA[n]
			acc.dB[d*N+n] += dBd[n]
			acc.dC[d*N+n] += dCd[n]
		}
		acc.dSkip[d] += dSkip
		acc.dBias[d] += dBias
	}
}

func exp32(x float32) float32 { return float32(math.Exp(float64(x))) }
