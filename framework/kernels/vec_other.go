//go:build purego || !amd64

package kernels

// Without assembly the element-wise kernels are the Go versions.
var vecArchImpls []*vecImpl
