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
// It runs on gonum's blas32 (a later kernel replaces it with a faster one).
// gonum splits c into fixed blocks, each summed over k in order, so the
// result does not depend on the thread count.
func MatMul(transA, transB bool, m, n, k int, a, b []float32, beta float32, c []float32) {
	if m < 0 || n < 0 || k < 0 || len(a) < m*k || len(b) < k*n || len(c) < m*n {
		panic("kernels: matmul: buffer too short")
	}
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		for i := range c[:m*n] {
			c[i] *= beta
		}
		return
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

// matMulGeneric is the reference for MatMul: three loops, float64 sums.
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
			c[i*n+j] = float32(s + float64(beta)*float64(c[i*n+j]))
		}
	}
}
