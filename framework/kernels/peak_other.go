//go:build purego || !amd64

package kernels

// peakBind: without assembly (purego, or not amd64) only the Go loop runs.
func peakBind(name string) (func(n int, acc []float32), string) {
	return nil, "no assembly in this build: purego, or not amd64"
}
