//go:build !linux

package kernels

// yieldThread does nothing here: spinPause's runtime.Gosched is the only
// yield (no portable way to give the thread to other processes).
func yieldThread() {}
