//go:build !purego

package kernels

import "golang.org/x/sys/cpu"

// peakBind returns the assembly loop name (peak_amd64.s) or why this CPU
// cannot run it.
func peakBind(name string) (func(n int, acc []float32), string) {
	switch name {
	case "fp32-ymm":
		if !cpu.X86.HasAVX2 || !cpu.X86.HasFMA {
			return nil, "this CPU has no AVX2 with FMA"
		}
		return func(n int, acc []float32) {
			_ = acc[12*8-1]
			peakFMAAVX2(n, &peakX[0], &peakY[0], &acc[0])
		}, ""
	case "fp32-zmm":
		if !cpu.X86.HasAVX512F {
			return nil, "this CPU has no AVX-512"
		}
		return func(n int, acc []float32) {
			_ = acc[16*16-1]
			peakFMAAVX512(n, &peakX[0], &peakY[0], &acc[0])
		}, ""
	case "bf16-dot-zmm":
		if !cpu.X86.HasAVX512F || !cpu.X86.HasAVX512BF16 {
			return nil, "this CPU has no AVX512_BF16"
		}
		return func(n int, acc []float32) {
			_ = acc[16*16-1]
			peakDotBF16AVX512(n, &peakXBF16[0], &peakYBF16[0], &acc[0])
		}, ""
	}
	return nil, "no such loop"
}
