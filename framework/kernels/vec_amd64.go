//go:build !purego

package kernels

import "golang.org/x/sys/cpu"

// vecArchImpls are the element-wise kernels in assembly, slowest first
// (registry.go lists them after vecGoImpl): AVX2 with FMA, and AVX-512
// with BMI2 for the tail mask.
var vecArchImpls = []*vecImpl{
	{name: "avx2", available: cpu.X86.HasAVX2 && cpu.X86.HasFMA, mulAdd: vecMulAddAVX2, add: vecAddAVX2},
	{name: "avx512", available: cpu.X86.HasAVX512F && cpu.X86.HasBMI2, mulAdd: vecMulAddAVX512, add: vecAddAVX512,
		rmsSumSq: rmsSumSqAVX512, rmsScale: rmsScaleAVX512, rmsBwdRow: rmsBwdRowAVX512},
}
