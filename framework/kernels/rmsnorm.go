package kernels

import "math"

// RMSNormForward normalizes each row of x by its root mean square and scales
// it (Zhang and Sennrich 2019; MambaRMSNorm in transformers):
//
//	rstd[m] = 1 / sqrt(mean_c x[m,c]² + eps)
//	y[m,c]  = w[c] · x[m,c] · rstd[m]
//
// Shapes: x, y (M, C); w (C); rstd (M), kept for the backward pass.
func RMSNormForward(y, rstd, x, w []float32, M, C int, eps float32) {
	if len(x) < M*C || len(y) < M*C || len(w) < C || len(rstd) < M {
		panic("kernels: rmsnorm: buffer too short")
	}
	parallel(M, parts(M, 16), func(_, lo, hi int) {
		for m := lo; m < hi; m++ {
			row := x[m*C : (m+1)*C]
			var ss float64
			for _, v := range row {
				ss += float64(v) * float64(v)
			}
			r := float32(1 / math.Sqrt(ss/float64(C)+float64(eps)))
			rstd[m] = r
			out := y[m*C : (m+1)*C]
			for c, v := range row {
				out[c] = w[c] * (v * r)
			}
		}
	})
}

// RMSNormBackward computes dx (M, C), overwritten, and adds the weight
// gradient to dw (C). With x̂ = x·rstd and g = dy⊙w:
//
//	dx = rstd · (g − x̂ · mean_c(g⊙x̂)),   dw += Σ_m dy⊙x̂
//
// Rows are split over workers; each keeps its own dw partial, summed in
// worker order.
func RMSNormBackward(dx, dw, dy, x, w, rstd []float32, M, C int) {
	if len(x) < M*C || len(dx) < M*C || len(dy) < M*C || len(w) < C || len(dw) < C || len(rstd) < M {
		panic("kernels: rmsnorm backward: buffer too short")
	}
	p := parts(M, 16)
	partial := make([]float64, p*C)
	parallel(M, p, func(wk, lo, hi int) {
		pw := partial[wk*C : (wk+1)*C]
		for m := lo; m < hi; m++ {
			r := rstd[m]
			xr, gr, dxr := x[m*C:(m+1)*C], dy[m*C:(m+1)*C], dx[m*C:(m+1)*C]
			var dot float64
			for c := range xr {
				xh := xr[c] * r
				dot += float64(gr[c]*w[c]) * float64(xh)
				pw[c] += float64(gr[c] * xh)
			}
			mean := float32(dot / float64(C))
			for c := range xr {
				xh := xr[c] * r
				dxr[c] = r * (gr[c]*w[c] - xh*mean)
			}
		}
	})
	for c := 0; c < C; c++ {
		var s float64
		for wk := 0; wk < p; wk++ {
			s += partial[wk*C+c]
		}
		dw[c] += float32(s)
	}
}

// rmsNormForwardGeneric is the reference for RMSNormForward, in float64.
func rmsNormForwardGeneric(y, rstd, x, w []float32, M, C int, eps float32) {
	for m := 0; m < M; m++ {
		var ss float64
		for c := 0; c < C; c++ {
			ss += float64(x[m*C+c]) * float64(x[m*C+c])
		}
		r := 1 / math.Sqrt(ss/float64(C)+float64(eps))
		rstd[m] = float32(r)
		for c := 0; c < C; c++ {
			y[m*C+c] = float32(float64(w[c]) * float64(x[m*C+c]) * r)
		}
	}
}

// rmsNormBackwardGeneric is the reference for RMSNormBackward, in float64,
// recomputing rstd from x.
func rmsNormBackwardGeneric(dx, dw, dy, x, w []float32, M, C int, eps float32) {
	for m := 0; m < M; m++ {
		var ss float64
		for c := 0; c < C; c++ {
			ss += float64(x[m*C+c]) * float64(x[m*C+c])
		}
		r := 1 / math.Sqrt(ss/float64(C)+float64(eps))
		var dot float64
		for c := 0; c < C; c++ {
			xh := float64(x[m*C+c]) * r
			dot += float64(dy[m*C+c]) * float64(w[c]) * xh
			dw[c] += float32(float64(dy[m*C+c]) * xh)
		}
		for c := 0; c < C; c++ {
			xh := float64(x[m*C+c]) * r
			dx[m*C+c] = float32(r * (float64(dy[m*C+c])*float64(w[c]) - xh*dot/float64(C)))
		}
	}
}
