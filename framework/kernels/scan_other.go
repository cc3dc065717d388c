//go:build purego || !amd64

package kernels

// Without assembly (the purego build tag, or an architecture other than
// amd64) the scan runs the fused Go implementation in scan_fused.go.
var scanArchImpls []*scanImpl
