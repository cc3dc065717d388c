//go:build !((linux || darwin || freebsd) && (amd64 || arm64))

package kernels

import "errors"

func loadOpenBLAS() error {
	return errors.New("no CBLAS loader on this platform (purego: linux, darwin, freebsd on amd64, arm64)")
}

// OpenBLASInfo describes the loaded CBLAS library; here there is none.
func OpenBLASInfo() (lib, core, config string, err error) { return "", "", "", loadOpenBLAS() }

func matMulOpenBLAS(transA, transB bool, m, n, k int, a, b []float32, beta float32, c []float32) {
	panic("kernels: matmul: OpenBLAS not available")
}
