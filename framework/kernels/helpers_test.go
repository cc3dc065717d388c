package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// Tolerances, declared once: fused float32 kernels against the float64-summing
// reference, measured as max|got−want| / max(1, max|want|) ("scale error").
const (
	tolFloat32 = 2e-5 // elementwise and short sums
	tolScan    = 1e-4 // recurrences over L steps and sums over B·L
	// tolBF16Sum: MatMulBF16 against its reference on the same
	// bf16-rounded inputs (the products are exact; only the float32 sums
	// differ), per √(k+1), scale error against max(1, max|want|) (the
	// float32 product's test uses the same bound).
	tolBF16Sum = 8e-6
	// tolBF16Round bounds MatMulBF16 against the float32 product of the
	// unrounded inputs (each input off by up to 2^-9 relative), scale
	// error against max(1, max|want|), values in [-1, 1].
	tolBF16Round = 1e-2
	// minBF16Round is the least such difference that shows the inputs
	// were rounded at all (the float32 sums alone stay under 1e-6).
	minBF16Round = 1e-4
)

const guardLen = 17

// guardNaN is the bit pattern written around outputs; a kernel that writes
// out of bounds changes it.
var guardNaN = math.Float32frombits(0x7fc0dead)

// guarded returns a slice of n elements inside a buffer whose guard regions
// on both sides hold guardNaN, and a func that fails the test if a guard
// changed.
func guarded(t *testing.T, name string, n int) ([]float32, func()) {
	buf := make([]float32, n+2*guardLen)
	for i := range buf {
		buf[i] = guardNaN
	}
	x := buf[guardLen : guardLen+n : guardLen+n]
	return x, func() {
		t.Helper()
		for i, v := range buf {
			if (i < guardLen || i >= guardLen+n) && math.Float32bits(v) != 0x7fc0dead {
				t.Errorf("%s: guard element %d overwritten (%v)", name, i-guardLen, v)
				return
			}
		}
	}
}

func randSlice(r *rand.Rand, n int, lo, hi float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = lo + (hi-lo)*r.Float32()
	}
	return x
}

// scaleErr is max|got−want| / max(floor, max|want|), and the index where
// the difference is largest.
func scaleErr(got, want []float32, floor float64) (float64, int) {
	var maxDiff, maxRef float64
	at := 0
	for i := range want {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if math.IsNaN(float64(got[i])) != math.IsNaN(float64(want[i])) {
			d = math.Inf(1)
		}
		if d > maxDiff {
			maxDiff, at = d, i
		}
		maxRef = max(maxRef, math.Abs(float64(want[i])))
	}
	return maxDiff / max(maxRef, floor), at
}

func checkClose(t *testing.T, name string, got, want []float32, tol float64) {
	t.Helper()
	checkCloseFloor(t, name, got, want, tol, 1e-3)
}

// checkCloseFloor is checkClose with the error measured against at least
// floor: the magnitude of the terms a result sums, when they cancel.
func checkCloseFloor(t *testing.T, name string, got, want []float32, tol, floor float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: len %d, want %d", name, len(got), len(want))
	}
	if e, at := scaleErr(got, want, floor); e > tol {
		t.Errorf("%s: scale error %.3g > %.1g (first worst index %d: got %v want %v)", name, e, tol, at, got[at], want[at])
	}
}

// forThreads runs f once single-threaded and once with 3 threads.
func forThreads(t *testing.T, f func(t *testing.T)) {
	old := Threads()
	defer SetThreads(old)
	for _, n := range []int{1, 3} {
		t.Run(fmt.Sprintf("threads=%d", n), func(t *testing.T) {
			SetThreads(n)
			f(t)
		})
	}
}

// checkNaNsClose compares got with want where want is a number (tolScan)
// and requires NaN exactly where want has one; Y, where a NaN input must
// show, must have at least one.
func checkNaNsClose(t *testing.T, name string, got, want []float32) {
	t.Helper()
	var g2, w2 []float32
	nans := 0
	for i := range want {
		gn, wn := math.IsNaN(float64(got[i])), math.IsNaN(float64(want[i]))
		if gn != wn {
			t.Errorf("%s[%d] = %v, want %v", name, i, got[i], want[i])
			return
		}
		if wn {
			nans++
			continue
		}
		g2, w2 = append(g2, got[i]), append(w2, want[i])
	}
	if nans == 0 && name == "Y" {
		t.Errorf("%s: no NaN at all", name)
	}
	checkClose(t, name, g2, w2, tolScan)
}

// probeLoss is the scalar Σ Y·R + Σ HT·S whose gradient w.r.t. Y and HT is
// (R, S): the loss the gradient tests differentiate by finite differences.
func probeLoss(s *Scan, R, S []float32) float64 {
	var l float64
	for i, v := range s.Y {
		l += float64(v) * float64(R[i])
	}
	for i, v := range s.HT {
		l += float64(v) * float64(S[i])
	}
	return l
}
