//go:build !purego

package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestComplexScanLTIDetection checks the glue's test for a Delta constant
// over time per channel: true for such a Delta (zero, or per-channel
// values), false when any one element of the worker's channels differs,
// by any bit, and unaffected by channels outside the range.
func TestComplexScanLTIDetection(t *testing.T) {
	cc := complexFastCase{c: scanCase{B: 3, L: 37, D: 41, N: 2, bias: true}, lti: true}
	s := cc.build(1)
	B, L, D := cc.c.B, cc.c.L, cc.c.D
	for _, r := range [][2]int{{0, 16}, {16, 32}, {8, 40}, {0, 40}} {
		if !cscanLTI(s, r[0], r[1]-r[0]) {
			t.Fatalf("zero Delta, channels %v: not LTI", r)
		}
	}
	rng := rand.New(rand.NewPCG(1, 1))
	flips := func() {
		for i := 0; i < 2000; i++ {
			row, d := 1+rng.IntN(B*L-1), rng.IntN(D)
			bit := rng.IntN(32)
			at := row*D + d
			old := s.Delta[at]
			s.Delta[at] = math.Float32frombits(math.Float32bits(old) ^ 1<<bit)
			for _, r := range [][2]int{{0, 16}, {16, 32}, {8, 40}, {0, 40}} {
				want := d < r[0] || d >= r[1]
				if got := cscanLTI(s, r[0], r[1]-r[0]); got != want {
					t.Fatalf("Delta[%d, %d] bit %d flipped, channels %v: LTI %v, want %v", row, d, bit, r, got, want)
				}
			}
			s.Delta[at] = old
		}
	}
	flips()
	// Per-channel constants (no bias): LTI; the first row counts too.
	for i := range s.Delta {
		s.Delta[i] = float32(i%D) * 0.37
	}
	if !cscanLTI(s, 0, 32) {
		t.Fatal("per-channel Delta: not LTI")
	}
	flips()
	s.Delta[5] = 99
	if cscanLTI(s, 0, 32) {
		t.Fatal("first row changed: still LTI")
	}
}
