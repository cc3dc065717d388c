//go:build purego || !amd64

package kernels

// bf16ArchImpls: no assembly (registry.go).
var bf16ArchImpls []kernelImpl

// bf16Tile: MatMulBF16 runs the go implementation.
var (
	bf16Tile      bf16TileFunc
	bf16ConvInUse = bf16ConvGo
)

func bf16TileNamed(string) bf16TileFunc { return nil }

func bf16ConvNamed(string) bf16Conv { return bf16ConvGo }

// gemvBF16OK: there is no gemv kernel.
const gemvBF16OK = false

func gemvDot8BF16(xr []float32, w []uint16, k int, out *[8]float32) {
	panic("kernels: no bf16 gemv kernel")
}
