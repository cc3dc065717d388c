//go:build !purego

package kernels

import "golang.org/x/sys/cpu"

// useBF16: the CPU has VDPBF16PS (AVX512_BF16) on zmm registers.
var useBF16 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BF16

// bf16ArchImpls are the bf16 product's assembly implementations, slowest
// first (registry.go lists them as bf16Impls). avx2 is never available:
// AVX2 has no bf16 dot product. It is listed so that MAMBAKIT_KERNEL=avx2
// keeps the bf16 product off AVX-512, as it does the float32 one.
var bf16ArchImpls = []kernelImpl{{"avx2", false}, {"avx512", useBF16}}

// bf16Tile is the tile kernel of MatMulBF16, nil for the go
// implementation. bf16ConvInUse are the conversions both implementations
// use: the AVX-512 ones (integer AVX-512F, no AVX512_BF16 needed) where
// the float32 kernels run AVX-512.
var (
	bf16Tile      = bf16TileNamed(bf16InUse)
	bf16ConvInUse = bf16ConvNamed(kernelsInUse.gemm)
)

func bf16TileNamed(name string) bf16TileFunc {
	if name == "avx512" {
		return gemmBF16AVX512
	}
	return nil
}

// bf16ConvNamed returns the conversions of the implementation name: the
// AVX-512 ones (on whole groups of 16, the rest in Go) for avx512, the Go
// ones otherwise.
func bf16ConvNamed(name string) bf16Conv {
	if name != "avx512" || !useAVX512 {
		return bf16ConvGo
	}
	return bf16Conv{
		round: func(dst []uint16, x []float32) {
			n := len(x) &^ 15
			if n > 0 {
				_ = dst[n-1]
				bf16RoundAVX512(&dst[0], &x[0], n)
			}
			bf16RoundRowGo(dst[n:], x[n:])
		},
		pairs: func(dst []uint32, x, y []float32) {
			n := len(x) &^ 15
			if n > 0 {
				_, _ = dst[n-1], y[n-1]
				bf16PairsAVX512(&dst[0], &x[0], &y[0], n)
			}
			bf16PairRowGo(dst[n:], x[n:], y[n:])
		},
		rowsPairs: func(hx, hy []uint16, dst []uint32, x, y []float32) {
			n := len(x) &^ 15
			if n > 0 {
				_, _, _, _ = hx[n-1], hy[n-1], dst[n-1], y[n-1]
				bf16RowsPairsAVX512(&hx[0], &hy[0], &dst[0], &x[0], &y[0], n)
			}
			bf16RowsPairsGo(hx[n:], hy[n:], dst[n:], x[n:], y[n:])
		},
		roundF32: func(dst, x []float32) {
			n := len(x) &^ 15
			if n > 0 {
				_ = dst[n-1]
				bf16RoundF32AVX512(&dst[0], &x[0], n)
			}
			roundSliceBF16(dst[n:], x[n:])
		},
	}
}

// gemvBF16OK: gemvDot8BF16 runs the AVX-512 kernel (as gemvOK).
var gemvBF16OK = pickAVX512

// gemvDot8BF16 sets out[r] = Σ_p x[p]·FromBF16(w[r·k+p]) for r < 8, x in
// bf16GemvOrder: the kernel on all but the last k%16, those in Go.
func gemvDot8BF16(xr []float32, w []uint16, k int, out *[8]float32) {
	_, _ = w[7*k+k-1], xr[k-1]
	k16 := k &^ 15
	if k16 > 0 {
		gemvDot8BF16AVX512(&xr[0], &w[0], uintptr(2*k), k, &out[0])
	} else {
		*out = [8]float32{}
	}
	for r := range out {
		s := out[r]
		for p := k16; p < k; p++ {
			s += xr[p] * FromBF16(w[r*k+p])
		}
		out[r] = s
	}
}
