package train

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testHistory is a run whose first loss (8 bits) is far above where it
// settles (about 2), evaluated every 10 steps.
func testHistory(steps int) []Metric {
	var ms []Metric
	for s := 1; s <= steps; s++ {
		m := Metric{Step: s, Loss: (2 + 6/float64(s*s)) * 0.6931471805599453}
		if s%10 == 0 {
			v := 1.95 - 0.0005*float64(s)
			m.ValBPU = &v
		}
		ms = append(ms, m)
	}
	return ms
}

func TestCurvesFigure(t *testing.T) {
	f, err := curvesFigure("runs/dna-3", testHistory(100), "base", 1, 1.9418, 5)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(f.Title, "dna-3: ") || !strings.Contains(f.Title, "bits per base") {
		t.Errorf("title %q does not name the run and the unit", f.Title)
	}
	if len(f.Panels) != 2 {
		t.Fatalf("%d panels, want the whole run and its second half zoomed", len(f.Panels))
	}
	whole, zoom := f.Panels[0], f.Panels[1]
	if whole.Y.Max < 8 {
		t.Errorf("whole-run panel tops at %v, below the first loss 8", whole.Y.Max)
	}
	// The zoomed panel holds the second half's validation (1.925..1.9)
	// and the baseline, and not the early loss.
	if zoom.Y.Min > 1.9 || zoom.Y.Max < 1.9418 || zoom.Y.Max > 2.1 {
		t.Errorf("zoomed panel Y [%v, %v], want about [1.9, 2.0]", zoom.Y.Min, zoom.Y.Max)
	}
	if zoom.X.Min < 50 {
		t.Errorf("zoomed panel starts at step %v, want the second half", zoom.X.Min)
	}
	// A baseline far above the second half is left out of the zoomed
	// panel, whose title says where it is.
	f, err = curvesFigure("runs/dna-3", testHistory(100), "base", 1, 2.6, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Panels) != 2 {
		t.Fatalf("%d panels, want 2", len(f.Panels))
	}
	if zoom := f.Panels[1]; zoom.Y.Max >= 2.6 || !strings.Contains(zoom.Title.Text, "Markov baseline 2.6000 is above") {
		t.Errorf("zoomed panel: Y up to %v, title %q; want the baseline 2.6 left out and named", zoom.Y.Max, zoom.Title.Text)
	}
	// A run whose curve is already flat gets one panel.
	flat := testHistory(100)
	for i := range flat {
		flat[i].Loss = 2 * 0.6931471805599453
	}
	f, err = curvesFigure("runs/dna", flat, "base", 1, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Panels) != 1 {
		t.Errorf("%d panels for a flat curve, want 1", len(f.Panels))
	}
}

func TestPlotCurvesWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "curves.png")
	if err := plotCurves(path, "runs/x", testHistory(30), "byte", 1, 2.5, 3); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Size() == 0 {
		t.Errorf("curves.png: %v", err)
	}
}
