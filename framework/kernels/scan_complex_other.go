//go:build purego || !amd64

package kernels

// Without assembly (the purego build tag, or an architecture other than
// amd64) the complex scan runs the fused Go code of scan_complex.go.
var complexArchImpls []*complexImpl
