package kernels

import "math"

// MatMulBF16 is MatMul with bfloat16 products:
//
//	c = bf16(op(a))·bf16(op(b)) + beta·c
//
// where bf16(x) rounds every element to bfloat16 (8 significant bits;
// round to nearest, ties to even: RoundBF16) and the products are summed
// in float32. Shapes, transposes and beta are as in MatMul; a and b stay
// float32 (the rounding happens as the kernel packs them), so callers keep
// float32 master weights. The product of two bfloat16 values is exact in
// float32, so the only error beyond the rounding of the inputs is that of
// the float32 sums.
//
// Implementations (bf16InUse, registry.go): avx512 runs AVX512_BF16's
// VDPBF16PS (two bf16 products a lane, summed into float32) on 14×32 tiles
// over inputs converted to bf16 pairs (matmul_bf16_blocked.go); go,
// correct on every CPU and under -tags purego, rounds the inputs into
// float32 buffers (with AVX-512F integer instructions where the float32
// kernels run AVX-512) and runs MatMul on them. Both sum each element of c in a fixed
// order, so the result does not depend on the thread count. An operand
// that several products read can be converted once (BF16Packed,
// MatMulBF16Packed: the same bits). VDPBF16PS
// treats bf16 subnormals (|x| < 2^-126) as zero; go keeps them. See
// docs/kernels.md, "bf16 products".
func MatMulBF16(transA, transB bool, m, n, k int, a, b []float32, beta float32, c []float32) {
	if m < 0 || n < 0 || k < 0 || len(a) < m*k || len(b) < k*n || len(c) < m*n {
		panic("kernels: matmul bf16: buffer too short")
	}
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		scaleC(beta, c[:m*n])
		return
	}
	if bf16Tile != nil {
		matMulBF16Blocked(bf16Tile, bf16ConvInUse, transA, transB, m, n, k, a, b, beta, c)
		return
	}
	matMulBF16Go(bf16ConvInUse, transA, transB, m, n, k, a, b, beta, c)
}

// BF16Kernel names the implementation MatMulBF16 runs: avx512 or go.
func BF16Kernel() string { return bf16InUse }

// RoundBF16 returns the bfloat16 nearest x (ties to even) as its 16 bits:
// the top half of a float32. A NaN stays a NaN (quiet, its sign and top
// payload bits kept, as VCVTNEPS2BF16 does); values beyond the largest
// bfloat16 round to ±Inf; subnormals round like any other value.
func RoundBF16(x float32) uint16 {
	b := math.Float32bits(x)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	// Adding 0x7fff rounds half down and above-half up; the low bit of
	// the kept half breaks ties to even. A carry moves into the exponent,
	// up to Inf, exactly as rounding should.
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

// FromBF16 returns the float32 of the bfloat16 bits h (exact).
func FromBF16(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// roundedBF16 is x rounded to bfloat16, as a float32.
func roundedBF16(x float32) float32 { return FromBF16(RoundBF16(x)) }

// matMulBF16Generic is the reference for MatMulBF16: matMulGeneric (three
// loops, float64 sums; beta = 0 overwrites c) over the inputs rounded to
// bfloat16.
func matMulBF16Generic(transA, transB bool, m, n, k int, a, b []float32, beta float32, c []float32) {
	ra, rb := make([]float32, m*k), make([]float32, k*n)
	roundSliceBF16(ra, a[:m*k])
	roundSliceBF16(rb, b[:k*n])
	matMulGeneric(transA, transB, m, n, k, ra, rb, beta, c)
}

// matMulBF16Go is the go implementation: a and b rounded into float32
// buffers, then MatMul (each product of two bfloat16 values is exact in
// float32, so this is the bf16 product with float32 sums on whatever
// float32 kernel MatMul runs).
func matMulBF16Go(conv bf16Conv, transA, transB bool, m, n, k int, a, b []float32, beta float32, c []float32) {
	ra, rb := getF32(m*k), getF32(k*n)
	defer putF32(ra)
	defer putF32(rb)
	conv.roundF32(*ra, a[:m*k])
	conv.roundF32(*rb, b[:k*n])
	MatMul(transA, transB, m, n, k, *ra, *rb, beta, c)
}

// roundSliceBF16 sets dst[i] to src[i] rounded to bfloat16.
func roundSliceBF16(dst, src []float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = roundedBF16(v)
	}
}
