package kernels

import (
	"math"
	"unsafe"
)

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
	rmsNormTeam.run(M, parts(M, 16), rmsNormArgs{y: y, rstd: rstd, x: x, w: w, C: C, eps: eps, rows: rmsRows(vecInUse, C)})
}

// rmsWidth: the assembly row kernels take rows of a multiple of 8 values.
const rmsWidth = 8

// rmsRows returns the implementation whose row kernels run rows of C
// values: im when it has them and C is a multiple of rmsWidth, else the
// Go versions.
func rmsRows(im *vecImpl, C int) *vecImpl {
	if im.rmsSumSq == nil || C%rmsWidth != 0 {
		return vecGoImpl
	}
	return im
}

// rmsNormArgs is an RMSNormForward call, or an RMSNormBackward or
// RMSNormBackwardAdd call when backward is set (partial: the workers' dw
// sums, (p, C); acc: RMSNormBackwardAdd's sum, with dxRows each worker's
// row of dx, (p, C)).
type rmsNormArgs struct {
	backward              bool
	y, rstd, x, w, dx, dy []float32
	acc, dxRows           []float32
	partial               []float64
	C                     int
	eps                   float32
	rows                  *vecImpl // the row kernels (rmsRows)
}

var rmsNormTeam team[rmsNormArgs, *rmsNormArgs]

func (a *rmsNormArgs) part(wk, lo, hi int) {
	if a.backward {
		a.backwardPart(wk, lo, hi)
		return
	}
	C, x, w, k := a.C, a.x, a.w, a.rows
	for m := lo; m < hi; m++ {
		var ss float64 // C = 0: rstd is NaN (0/0), as the reference has it
		if C > 0 {
			ss = k.rmsSumSq(&x[m*C], C)
		}
		r := float32(1 / math.Sqrt(ss/float64(C)+float64(a.eps)))
		a.rstd[m] = r
		if C > 0 {
			k.rmsScale(&a.y[m*C], &x[m*C], &w[0], r, C)
		}
	}
}

// rmsSumSqGo returns Σ x[i]², i < n, summed in float64 in order.
func rmsSumSqGo(x *float32, n int) float64 {
	var ss float64
	for _, v := range unsafe.Slice(x, n) {
		ss += float64(v) * float64(v)
	}
	return ss
}

// rmsScaleGo sets y[i] = w[i]·(x[i]·r), i < n.
func rmsScaleGo(y, x, w *float32, r float32, n int) {
	ys, xs, ws := unsafe.Slice(y, n), unsafe.Slice(x, n), unsafe.Slice(w, n)
	for c, v := range xs {
		ys[c] = ws[c] * (v * r)
	}
}

// rmsBwdRowGo is one row of RMSNormBackward: with x̂ = x·r, it adds
// dy⊙x̂ to pw (float64) and sets dx = r·(dy⊙w − x̂·mean), mean =
// float32(Σ (dy⊙w)·x̂ / n) summed in float64; i < n.
func rmsBwdRowGo(dx, dy, x, w *float32, pw *float64, r float32, n int) {
	xr, gr, dxr := unsafe.Slice(x, n), unsafe.Slice(dy, n), unsafe.Slice(dx, n)
	ws, pws := unsafe.Slice(w, n), unsafe.Slice(pw, n)
	var dot float64
	for c := range xr {
		xh := xr[c] * r
		dot += float64(gr[c]*ws[c]) * float64(xh)
		pws[c] += float64(gr[c] * xh)
	}
	mean := float32(dot / float64(n))
	for c := range xr {
		xh := xr[c] * r
		dxr[c] = r * (gr[c]*ws[c] - xh*mean)
	}
}

// RMSNormBackward computes dx (M, C), overwritten, and adds the weight
// gradient to dw (C). With x̂ = x·rstd and g = dy⊙w:
//
//	dx = rstd · (g − x̂ · mean_c(g⊙x̂)),   dw += Σ_m dy⊙x̂
//
// Rows are split over workers; each keeps its own dw partial, summed in
// worker order.
func RMSNormBackward(dx, dw, dy, x, w, rstd []float32, M, C int) {
	if len(dx) < M*C {
		panic("kernels: rmsnorm backward: buffer too short")
	}
	rmsNormBackward(dx, nil, dw, dy, x, w, rstd, M, C)
}

// RMSNormBackwardAdd is RMSNormBackward adding dx into acc (acc += dx,
// each row as it is computed) instead of storing it: the gradient of a
// block's input joins the residual stream's without a pass of its own.
// The bits are those of RMSNormBackward then acc[i] += dx[i].
func RMSNormBackwardAdd(acc, dw, dy, x, w, rstd []float32, M, C int) {
	if len(acc) < M*C {
		panic("kernels: rmsnorm backward: buffer too short")
	}
	rmsNormBackward(nil, acc, dw, dy, x, w, rstd, M, C)
}

// rmsNormBackward is RMSNormBackward into dx, or RMSNormBackwardAdd into
// acc when dx is nil.
func rmsNormBackward(dx, acc, dw, dy, x, w, rstd []float32, M, C int) {
	if len(x) < M*C || len(dy) < M*C || len(w) < C || len(dw) < C || len(rstd) < M {
		panic("kernels: rmsnorm backward: buffer too short")
	}
	p := parts(M, 16)
	buf := getF64(p * C)
	defer putF64(buf)
	partial := *buf
	args := rmsNormArgs{backward: true, dx: dx, dy: dy, x: x, w: w, rstd: rstd, partial: partial, C: C, rows: rmsRows(vecInUse, C)}
	if dx == nil {
		// Each worker's row of dx, added into acc while in L1.
		rowBuf := getF32(p * C)
		defer putF32(rowBuf)
		args.acc, args.dxRows = acc, *rowBuf
	}
	rmsNormTeam.run(M, p, args)
	for c := 0; c < C; c++ {
		var s float64
		for wk := 0; wk < p; wk++ {
			s += partial[wk*C+c]
		}
		dw[c] += float32(s)
	}
}

func (a *rmsNormArgs) backwardPart(wk, lo, hi int) {
	C, k := a.C, a.rows
	if C == 0 {
		return
	}
	pw := a.partial[wk*C : (wk+1)*C]
	if a.acc != nil {
		dx := a.dxRows[wk*C : (wk+1)*C]
		for m := lo; m < hi; m++ {
			k.rmsBwdRow(&dx[0], &a.dy[m*C], &a.x[m*C], &a.w[0], &pw[0], a.rstd[m], C)
			addTo(a.acc[m*C:(m+1)*C], dx)
		}
		return
	}
	for m := lo; m < hi; m++ {
		k.rmsBwdRow(&a.dx[m*C], &a.dy[m*C], &a.x[m*C], &a.w[0], &pw[0], a.rstd[m], C)
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
