//go:build !unix

package bench

import "runtime"

// peakRSSMB approximates the peak memory where getrusage is missing: the
// memory the Go runtime obtained from the OS, in MiB.
func peakRSSMB() float64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.Sys) / (1 << 20)
}
