package compare

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestCurveAddGroupsSeedsByStep(t *testing.T) {
	var c curve
	c.add([]Point{{10, 3}, {20, 2}})
	c.add([]Point{{10, 5}, {20, 4}, {30, 1}})
	if !slices.Equal(c.Steps, []int{10, 20, 30}) {
		t.Fatalf("steps %v", c.Steps)
	}
	if !slices.Equal(c.BPU[0], []float64{3, 5}) || !slices.Equal(c.BPU[1], []float64{2, 4}) || !slices.Equal(c.BPU[2], []float64{1}) {
		t.Errorf("values by step %v", c.BPU)
	}
}

func TestBaselineLabel(t *testing.T) {
	r := func(seed uint64, k int) Result {
		return Result{Run: Run{Modality: Modality{Label: "dna"}, Seed: seed}, Baseline: 1.94, BaselineK: k}
	}
	tests := map[string]struct {
		rs   []Result
		want string
	}{
		"one seed":            {[]Result{r(1, 5)}, "Markov order 5\n1.9400"},
		"seeds, same order":   {[]Result{r(1, 5), r(2, 5)}, "Markov order 5\n1.9400 (mean)"},
		"seeds, other orders": {[]Result{r(1, 5), r(2, 4)}, "Markov baseline\n1.9400 (mean)"},
	}
	for name, tc := range tests {
		if got := baselineLabel(tc.rs, "dna", 1.94); got != tc.want {
			t.Errorf("%s: %q, want %q", name, got, tc.want)
		}
	}
}

// TestWriteFigures checks that every figure is written, curves included,
// for a spec of two seeds.
func TestWriteFigures(t *testing.T) {
	s := &Spec{Seeds: []uint64{1, 2}, Modalities: []Modality{{Name: "dna", Label: "dna"}},
		Variants: []Variant{{Name: "S6"}, {Name: "LTI", NonSelective: []string{"delta", "B", "C"}}}}
	var rs []Result
	for _, v := range s.Variants {
		for _, seed := range s.Seeds {
			b := 1.93 + 0.01*float64(seed)
			rs = append(rs, Result{Run: Run{Modality: s.Modalities[0], Variant: v, Seed: seed}, Unit: "base",
				BitsPerUnit: b, Baseline: 1.94, BaselineK: 4, Curve: []Point{{10, 3}, {20, 2.1}, {30, b}}})
		}
	}
	dir := t.TempDir()
	if err := writeFigures(s, Summarize(s, rs), rs, dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"spectrum.png", "bpu-dna.png", "curves-dna.png"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
}
