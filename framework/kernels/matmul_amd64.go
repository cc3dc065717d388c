//go:build !purego

package kernels

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// gemmAsm: the assembly kernels are built.
const gemmAsm = true

var (
	useAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL
	useAVX2   = cpu.X86.HasAVX2 && cpu.X86.HasFMA
)

// gemmArchImpls are the micro-kernel families, slowest first (registry.go
// lists them as gemmImpls): avx2 is gemmAVX2, avx512 gemmAVX512 with its
// narrow and short variants.
var gemmArchImpls = []kernelImpl{{"avx2", useAVX2}, {"avx512", useAVX512}}

// pickAVX512: the Go backend runs the AVX-512 kernels (kernelsInUse.gemm;
// MAMBAKIT_KERNEL=avx2 picks the AVX2 one).
var pickAVX512 = kernelsInUse.gemm == "avx512"

var gemmAVX512 = &gemmKernel{name: "avx512", mr: 14, nr: 32, inPlaceB: true,
	tile: func(kc int, a unsafe.Pointer, ars, acs uintptr, b *float32, bcs uintptr, c *float32, ldc, rows, cols int, beta float32, add bool) {
		flags := 0
		if add {
			flags = 1
		}
		gemmKernelAVX512(kc, (*float32)(a), ars, acs, b, bcs, c, ldc, rows, uint32(uint64(1)<<cols-1), beta, flags)
	}}

// gemmAVX512N16 is for narrow C (n ≤ 16: the model's x_proj and dt_proj
// products), where 32-column tiles would leave half the lanes or more idle.
var gemmAVX512N16 = &gemmKernel{name: "avx512n16", mr: 24, nr: 16, inPlaceB: true,
	tile: func(kc int, a unsafe.Pointer, ars, acs uintptr, b *float32, bcs uintptr, c *float32, ldc, rows, cols int, beta float32, add bool) {
		flags := 0
		if add {
			flags = 1
		}
		gemmKernelAVX512N16(kc, (*float32)(a), ars, acs, b, bcs, c, ldc, rows, uint32(uint64(1)<<cols-1), beta, flags)
	}}

// gemmAVX512N8 is for C with at most 8 columns (x_proj Δ outputs, the
// dt_proj input gradient): 8-lane ymm FMAs, which this kind of CPU (two
// 256-bit FMA pipes, 512-bit ops split in two) runs at the same flops per
// cycle, so no lane is idle.
var gemmAVX512N8 = &gemmKernel{name: "avx512n8", mr: 24, nr: 8, inPlaceB: true,
	tile: func(kc int, a unsafe.Pointer, ars, acs uintptr, b *float32, bcs uintptr, c *float32, ldc, rows, cols int, beta float32, add bool) {
		flags := 0
		if add {
			flags = 1
		}
		gemmKernelAVX512N8(kc, (*float32)(a), ars, acs, b, bcs, c, ldc, rows, uint32(uint64(1)<<cols-1), beta, flags)
	}}

// gemmAVX512M8 is for short C (m ≤ 8: the x_proj Δ weight gradient R×Din
// over k = B·L) when B is row-major, read in place.
var gemmAVX512M8 = &gemmKernel{name: "avx512m8", mr: 8, nr: 32, inPlaceB: true,
	tile: func(kc int, a unsafe.Pointer, ars, acs uintptr, b *float32, bcs uintptr, c *float32, ldc, rows, cols int, beta float32, add bool) {
		flags := 0
		if add {
			flags = 1
		}
		gemmKernelAVX512M8(kc, (*float32)(a), ars, acs, b, bcs, c, ldc, rows, uint32(uint64(1)<<cols-1), beta, flags)
	}}

// gemmMaskAVX2 is 16 lanes on then 16 off: &gemmMaskAVX2[16-cols] selects
// the first cols of 16 columns.
var gemmMaskAVX2 = [32]int32{-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1}

var gemmAVX2 = &gemmKernel{name: "avx2", mr: 6, nr: 16,
	tile: func(kc int, a unsafe.Pointer, ars, acs uintptr, b *float32, bcs uintptr, c *float32, ldc, rows, cols int, beta float32, add bool) {
		flags := 0
		if add {
			flags = 1
		}
		if cols < 16 {
			flags |= 2
		}
		gemmKernelAVX2(kc, (*float32)(a), ars, acs, b, c, ldc, rows, &gemmMaskAVX2[16-cols], beta, flags)
	}}

// gemmKernels lists every micro-kernel this CPU runs (for the tests).
func gemmKernels() []*gemmKernel {
	var ks []*gemmKernel
	if useAVX512 {
		ks = append(ks, gemmAVX512, gemmAVX512N16, gemmAVX512N8, gemmAVX512M8)
	}
	if useAVX2 {
		ks = append(ks, gemmAVX2)
	}
	return ks
}

// gemmPickShort returns the micro-kernel for C with at most 8 rows and a
// row-major B, nil when there is none.
func gemmPickShort() *gemmKernel {
	if pickAVX512 {
		return gemmAVX512M8
	}
	return nil
}

// gemmPick returns the micro-kernel for C with n columns, nil without
// assembly.
func gemmPick(n int) *gemmKernel {
	switch {
	case pickAVX512 && n <= 8:
		return gemmAVX512N8
	case pickAVX512 && n <= 16:
		return gemmAVX512N16
	case pickAVX512:
		return gemmAVX512
	case kernelsInUse.gemm == "avx2":
		return gemmAVX2
	}
	return nil
}

// gemvOK: gemvDot8 runs the AVX-512 kernel.
var gemvOK = pickAVX512

// gemvDot8 sets out[r] = Σ_p x[p]·w[r·k+p] for r < 8 (w holds 8 rows of k).
func gemvDot8(x, w []float32, k int, out *[8]float32) {
	_ = w[7*k+k-1]
	gemvDot8AVX512(&x[0], &w[0], uintptr(4*k), k, uint32(1)<<(k%16)-1, &out[0])
}
