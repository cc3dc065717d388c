//go:build !purego

package kernels

import "golang.org/x/sys/cpu"

// vecArchImpls are the element-wise kernels in assembly, slowest first
// (registry.go lists them after vecGoImpl): AVX2 with FMA, and AVX-512
// with BMI2 for the tail mask, which also has the convolution's block
// kernels (conv_amd64.s).
var vecArchImpls = []*vecImpl{
	{name: "avx2", available: cpu.X86.HasAVX2 && cpu.X86.HasFMA, mulAdd: vecMulAddAVX2, add: vecAddAVX2},
	{name: "avx512", available: cpu.X86.HasAVX512F && cpu.X86.HasBMI2, mulAdd: vecMulAddAVX512, add: vecAddAVX512,
		rmsSumSq: rmsSumSqAVX512, rmsScale: rmsScaleAVX512, rmsBwdRow: rmsBwdRowAVX512,
		convFwd:  [...]func(y, u, x, w, bias *float32, n, ld, ldw int){nil, convFwd1AVX512, convFwd2AVX512, convFwd3AVX512, convFwd4AVX512},
		convBwd:  [...]func(dx, dw, db, dy, du, yc, x, w *float32, n, ld, ldw int){nil, convBwd1AVX512, convBwd2AVX512, convBwd3AVX512, convBwd4AVX512},
		convSiLU: "avx512"},
}
