package kernels

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// MatMul computes c = op(a)·op(b) + beta·c for row-major, densely packed
// matrices, where op(x) is x or its transpose:
//
//	op(a) (m, k), op(b) (k, n), c (m, n)
//
// a is stored (m, k), or (k, m) when transA; b is stored (k, n), or (n, k)
// when transB. A linear layer y = x·Wᵀ with W (out, in) is
// MatMul(false, true, M, out, in, x, W, 0, y); its gradients are
// MatMul(false, false, M, in, out, dy, W, 0, dx) and
// MatMul(true, false, out, in, M, dy, x, 1, dW).
//
// The backend is chosen with SetBLAS: OpenBLAS loaded at run time when
// present (auto), else the Go path: an AVX-512 or AVX2+FMA micro-kernel
// over packed, cache-blocked panels (matmul_blocked.go), or gonum's blas32
// where there is no assembly (purego builds, other architectures). The Go
// path and gonum split C into fixed blocks, each summed over k in one
// fixed order, so for a given backend and CPU the result does not depend
// on the thread count or on timing. OpenBLAS gives the same bits for the
// same thread count. beta = 0 overwrites c, NaN included. See
// docs/kernels.md, "Matrix multiply".
func MatMul(transA, transB bool, m, n, k int, a, b []float32, beta float32, c []float32) {
	if m < 0 || n < 0 || k < 0 || len(a) < m*k || len(b) < k*n || len(c) < m*n {
		panic("kernels: matmul: buffer too short")
	}
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		scaleC(beta, c[:m*n])
		return
	}
	switch currentBLAS() {
	case blasOpenBLAS:
		if m < gemmSmallM && !transA && transB && gemvOK {
			// One to three rows times Wᵀ (the one-token Step path) is
			// bound by streaming W: OpenBLAS's sgemm reads it at 6–10 GB/s
			// there, the gemv kernel at 80–95 from the caches, 18 from DRAM.
			matMulGemvNT(m, n, k, a, b, beta, c)
			return
		}
		matMulOpenBLAS(transA, transB, m, n, k, a, b, beta, c)
	case blasGonum:
		matMulGonum(transA, transB, m, n, k, a, b, beta, c)
	default:
		matMulGo(transA, transB, m, n, k, a, b, beta, c)
	}
}

// scaleC sets c = beta·c, and c = 0 when beta is 0 (whatever c held).
func scaleC(beta float32, c []float32) {
	if beta == 0 {
		clear(c)
		return
	}
	for i := range c {
		c[i] *= beta
	}
}

// gemmSmallM is the row count below which the Go backend hands the product
// to the gemv kernel (NT) or gonum: packing B costs as much as the product
// when m is tiny (the one-token Step path multiplies a batch of rows by
// each weight).
const gemmSmallM = 4

// matMulGo is the Go backend: the best micro-kernel the CPU has (the gemv
// kernel for NT products with fewer than gemmSmallM rows), else gonum's
// serial kernels on fixed blocks of c (matMulGonumBlocks).
func matMulGo(transA, transB bool, m, n, k int, a, b []float32, beta float32, c []float32) {
	route, kern := gemmPlan(transA, transB, m, n, k)
	switch route {
	case gemmRouteGemv:
		matMulGemvNT(m, n, k, a, b, beta, c)
	case gemmRouteGonum:
		matMulGonumBlocks(transA, transB, m, n, k, a, b, beta, c)
	case gemmRouteTransposed:
		matMulTransposed(kern, transA, transB, m, n, k, a, b, beta, c)
	default:
		matMulBlocked(kern, transA, transB, m, n, k, a, b, beta, c)
	}
}

// gemmRoute is how matMulGo computes a product (gemmPlan).
type gemmRoute uint8

const (
	gemmRouteBlocked    gemmRoute = iota // matMulBlocked on the kernel
	gemmRouteTransposed                  // matMulTransposed on the kernel: Cᵀ, then transposed into c
	gemmRouteGemv                        // matMulGemvNT
	gemmRouteGonum                       // matMulGonumBlocks
)

// gemmPlan returns the route and micro-kernel matMulGo takes for a
// product of this shape (the kernel is nil for the gemv and gonum routes).
func gemmPlan(transA, transB bool, m, n, k int) (gemmRoute, *gemmKernel) {
	if m < gemmSmallM && !transA && transB && gemvOK {
		return gemmRouteGemv, nil
	}
	if m < gemmSmallM || gemmPick(n) == nil {
		return gemmRouteGonum, nil
	}
	if kern := gemmPickShort(); kern != nil && m <= 8 && !transB && n > 16 {
		// At most 8 rows and a row-major B (the x_proj Δ weight gradient
		// R×Din over k = B·L): one row of 8×32 tiles, A and B read in place.
		return gemmRouteBlocked, kern
	}
	if kern := gemmPickShort(); kern != nil && n <= 8 && transA && m > 16 {
		// A transposed and at most 8 columns (the dt_proj weight gradient
		// Din×R over k = B·L): Cᵀ has at most 8 rows and a row-major
		// op(A)ᵀ, the short kernel's case.
		return gemmRouteTransposed, kern
	}
	if m <= 16 && n >= 2*m {
		// Few rows, many columns (the x_proj B/C weight gradient N×Din
		// over k = B·L, NT products of a small batch): tiles of at most m
		// rows would leave most of the micro-kernel idle; Cᵀ's n' = m
		// columns fit the narrow kernel.
		return gemmRouteTransposed, gemmPick(m)
	}
	return gemmRouteBlocked, gemmPick(n)
}

// matMulGonum runs gonum's blas32.Gemm. gonum splits c into fixed blocks,
// each summed over k in order.
func matMulGonum(transA, transB bool, m, n, k int, a, b []float32, beta float32, c []float32) {
	if beta == 0 {
		clear(c[:m*n]) // BLAS: beta = 0 overwrites, even NaN
	}
	ta, tb := blas.NoTrans, blas.NoTrans
	lda, ldb := k, n
	ar, ac, br, bc := m, k, k, n
	if transA {
		ta, lda, ar, ac = blas.Trans, m, k, m
	}
	if transB {
		tb, ldb, br, bc = blas.Trans, k, n, k
	}
	blas32.Gemm(ta, tb, 1,
		blas32.General{Rows: ar, Cols: ac, Stride: lda, Data: a[:ar*ac]},
		blas32.General{Rows: br, Cols: bc, Stride: ldb, Data: b[:br*bc]},
		beta,
		blas32.General{Rows: m, Cols: n, Stride: n, Data: c[:m*n]})
}

// matMulTransposed computes c = op(a)·op(b) + beta·c as
// Cᵀ = op(b)ᵀ·op(a)ᵀ on kern into a pooled buffer, then transposes it into
// c.
func matMulTransposed(kern *gemmKernel, transA, transB bool, m, n, k int, a, b []float32, beta float32, c []float32) {
	buf := getGemmBuf()
	if cap(buf.t) < m*n {
		buf.t = make([]float32, m*n)
	}
	t := buf.t[:m*n]
	matMulBlocked(kern, !transB, !transA, n, m, k, b, a, 0, t)
	for i := 0; i < m; i++ {
		row := c[i*n : i*n+n]
		if beta == 0 {
			for j := range row {
				row[j] = t[j*m+i]
			}
			continue
		}
		for j := range row {
			row[j] = t[j*m+i] + beta*row[j]
		}
	}
	gemmBufs.put(buf)
}

// gonumBlockM and gonumBlockN bound the blocks of c that
// matMulGonumBlocks hands to gonum: under 4 of gonum's 64×64 blocks, so
// gonum runs them serially (its parallel path allocates per call).
const gonumBlockM, gonumBlockN = 64, 128

// matMulGonumBlocks is the Go backend without assembly: c split into fixed
// blocks of at most gonumBlockM×gonumBlockN, each computed by gonum's
// serial Sgemm (sums over k in order), spread over the worker team. It
// allocates nothing, and its result does not depend on the thread count.
func matMulGonumBlocks(transA, transB bool, m, n, k int, a, b []float32, beta float32, c []float32) {
	t := gemmTask{gonum: true, transA: transA, transB: transB, m: m, n: n, k: k, a: a, b: b, beta: beta, c: c,
		units: (m + gonumBlockM - 1) / gonumBlockM}
	t.parts = min(Threads(), max(1, 2*m*n*k/gemmMinFlops), t.units)
	gemmDispatch(t)
}

// gonumBlocks computes rows [i0, i1) of c block by block with gonum.
func gonumBlocks(transA, transB bool, m, n, k int, a, b []float32, beta float32, c []float32, i0, i1 int) {
	for ib := i0; ib < i1; ib += gonumBlockM {
		ie := min(ib+gonumBlockM, i1)
		for jb := 0; jb < n; jb += gonumBlockN {
			je := min(jb+gonumBlockN, n)
			gonumBlock(transA, transB, m, n, k, a, b, beta, c, ib, ie, jb, je)
		}
	}
}

// gonumBlock computes c[i0:i1, j0:j1] with one gonum Sgemm on views.
func gonumBlock(transA, transB bool, m, n, k int, a, b []float32, beta float32, c []float32, i0, i1, j0, j1 int) {
	mb, nb := i1-i0, j1-j0
	cv := blas32.General{Rows: mb, Cols: nb, Stride: n, Data: c[i0*n+j0 : (i1-1)*n+j1]}
	if beta == 0 { // BLAS: beta = 0 overwrites, even NaN
		for i := 0; i < mb; i++ {
			clear(cv.Data[i*n : i*n+nb])
		}
	}
	ta, tb := blas.NoTrans, blas.NoTrans
	av := blas32.General{Rows: mb, Cols: k, Stride: k, Data: a[i0*k : (i1-1)*k+k]}
	if transA { // a (k, m): columns i0..i1
		ta = blas.Trans
		av = blas32.General{Rows: k, Cols: mb, Stride: m, Data: a[i0 : (k-1)*m+i1]}
	}
	bv := blas32.General{Rows: k, Cols: nb, Stride: n, Data: b[j0 : (k-1)*n+j1]}
	if transB { // b (n, k): rows j0..j1
		tb = blas.Trans
		bv = blas32.General{Rows: nb, Cols: k, Stride: k, Data: b[j0*k : (j1-1)*k+k]}
	}
	blas32.Gemm(ta, tb, 1, av, bv, beta, cv)
}

// matMulGeneric is the reference for MatMul: three loops, float64 sums;
// beta = 0 overwrites c (NaN included), as in BLAS.
func matMulGeneric(transA, transB bool, m, n, k int, a, b []float32, beta float32, c []float32) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				av := a[i*k+p]
				if transA {
					av = a[p*m+i]
				}
				bv := b[p*n+j]
				if transB {
					bv = b[j*k+p]
				}
				s += float64(av) * float64(bv)
			}
			if beta != 0 {
				s += float64(beta) * float64(c[i*n+j])
			}
			c[i*n+j] = float32(s)
		}
	}
}
