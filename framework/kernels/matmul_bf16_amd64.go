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
// implementation.
var bf16Tile = bf16TileNamed(bf16InUse)

func bf16TileNamed(name string) bf16TileFunc {
	if name == "avx512" {
		return gemmBF16AVX512
	}
	return nil
}
