package kernels

import (
	"slices"
	"testing"
)

// TestPeakKernels checks that every compute-ceiling loop this machine runs
// computes its reference's result bit for bit (the inputs are exact, see
// peakX): n iterations into every accumulator, none skipped, none doubled.
// A loop that did nothing, or too few iterations, would leave acc short.
func TestPeakKernels(t *testing.T) {
	for _, k := range PeakKernels() {
		t.Run(k.Name, func(t *testing.T) {
			if k.Skip != "" {
				t.Skip(k.Skip)
			}
			for _, n := range []int{0, 1, 2, 3, 37, 200} {
				init := make([]float32, k.accs)
				for i := range init {
					init[i] = float32(i%61) - 30
				}
				got, want := slices.Clone(init), slices.Clone(init)
				k.kernel(n, got)
				k.ref(n, want)
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("n=%d: acc[%d] = %v, want %v", n, i, got[i], want[i])
					}
					if n > 0 && got[i] == init[i] {
						t.Fatalf("n=%d: acc[%d] unchanged (%v)", n, i, got[i])
					}
				}
			}
			k.Run(1000) // the exported path, on its own buffer
		})
	}
}

// TestPeakFlops checks each loop's Flops against its shape: a multiply-add
// per accumulator lane, two for a bf16 pair.
func TestPeakFlops(t *testing.T) {
	for _, k := range PeakKernels() {
		want := 2 * k.accs
		if k.Name == "bf16-dot-zmm" {
			want = 4 * k.accs
		}
		if k.Flops != want {
			t.Errorf("%s: Flops %d, want %d", k.Name, k.Flops, want)
		}
	}
	if got := len(PeakKernelNames()); got != len(PeakKernels()) {
		t.Errorf("PeakKernelNames: %d names for %d loops", got, len(PeakKernels()))
	}
}
