package kernels

import "testing"

// FuzzMatMulBF16 compares every bf16 implementation with the reference
// on random shapes (m, n, k < 80, any transposes, beta 0, 1 or -0.5),
// inputs with a NaN or an Inf, and 1–3 threads.
func FuzzMatMulBF16(f *testing.F) {
	f.Add(uint8(3), uint8(17), uint8(33), uint8(0), uint8(0), uint8(1))
	f.Add(uint8(14), uint8(32), uint8(1), uint8(3), uint8(1), uint8(2))
	f.Add(uint8(29), uint8(5), uint8(71), uint8(2), uint8(2), uint8(3))
	f.Add(uint8(8), uint8(77), uint8(40), uint8(1), uint8(12), uint8(2))
	fuzzMatMulImpls(f, bf16MatMulImpls(), matMulBF16Generic, tolBF16Sum)
}
