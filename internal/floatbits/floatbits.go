// Package floatbits compares float32 slices bit for bit, as the tests of
// the model's deterministic paths (recomputation, the same run twice) do:
// equal values with other bits (0 and −0, NaN payloads) count as
// different.
package floatbits

import "math"

// Diff counts the elements of a and b whose bits differ and gives the
// index of the first (−1 when none). When the lengths differ every
// element counts, and first is 0.
func Diff(a, b []float32) (n, first int) {
	if len(a) != len(b) {
		return max(len(a), len(b)), 0
	}
	first = -1
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			if first < 0 {
				first = i
			}
			n++
		}
	}
	return n, first
}
