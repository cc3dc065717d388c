//go:build !purego

package kernels

import "golang.org/x/sys/cpu"

// The element-wise kernels of this CPU: AVX-512 (with BMI2 for the tail
// mask), else AVX2 with FMA, else Go. MAMBAKIT_KERNEL=avx2 or go picks a
// slower one, as for the scan and the matrix multiply.
var vecMulAdd, vecAdd = pickVec()

func pickVec() (func(dst, a, b *float32, n int), func(dst, a *float32, n int)) {
	avx512 := cpu.X86.HasAVX512F && cpu.X86.HasBMI2 && !kernelEnv("avx2") && !kernelEnv("go")
	avx2 := cpu.X86.HasAVX2 && cpu.X86.HasFMA && !kernelEnv("go")
	switch {
	case avx512:
		return vecMulAddAVX512, vecAddAVX512
	case avx2:
		return vecMulAddAVX2, vecAddAVX2
	}
	return vecMulAddGo, vecAddGo
}

// vecImpls lists the element-wise kernels this CPU can run, for tests.
func vecImpls() map[string]func(dst, a, b *float32, n int) {
	m := map[string]func(dst, a, b *float32, n int){"go": vecMulAddGo}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		m["avx2"] = vecMulAddAVX2
	}
	if cpu.X86.HasAVX512F && cpu.X86.HasBMI2 {
		m["avx512"] = vecMulAddAVX512
	}
	return m
}

// vecAddImpls is vecImpls for vecAdd.
func vecAddImpls() map[string]func(dst, a *float32, n int) {
	m := map[string]func(dst, a *float32, n int){"go": vecAddGo}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		m["avx2"] = vecAddAVX2
	}
	if cpu.X86.HasAVX512F && cpu.X86.HasBMI2 {
		m["avx512"] = vecAddAVX512
	}
	return m
}
