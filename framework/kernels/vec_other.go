//go:build purego || !amd64

package kernels

// Without assembly the element-wise kernels are the Go versions.
var vecMulAdd, vecAdd = vecMulAddGo, vecAddGo

func vecImpls() map[string]func(dst, a, b *float32, n int) {
	return map[string]func(dst, a, b *float32, n int){"go": vecMulAddGo}
}

func vecAddImpls() map[string]func(dst, a *float32, n int) {
	return map[string]func(dst, a *float32, n int){"go": vecAddGo}
}
