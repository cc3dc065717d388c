package compare

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSummarizeGainAndSpread(t *testing.T) {
	s := &Spec{Name: "test", Seeds: []uint64{1, 2},
		Modalities: []Modality{{Name: "text", Label: "text"}, {Name: "audio", Label: "audio"}},
		Variants: []Variant{{Name: "S6"}, {Name: "LTI", NonSelective: []string{"delta", "B", "C"}},
			{Name: "LTI2", NonSelective: []string{"C", "B", "delta"}}}}
	res := func(m, v string, seed uint64, bpu float64) Result {
		var vv Variant
		for _, x := range s.Variants {
			if x.Name == v {
				vv = x
			}
		}
		return Result{Run: Run{Modality: Modality{Name: m, Label: m}, Variant: vv, Seed: seed}, BitsPerUnit: bpu, Baseline: 3, Unit: "byte",
			Curve: []Point{{10, bpu + 1}, {20, bpu}}}
	}
	rs := []Result{
		res("text", "S6", 1, 1.9), res("text", "S6", 2, 2.1),
		res("text", "LTI", 1, 2.5), res("text", "LTI", 2, 2.5),
		res("text", "LTI2", 1, 2.4), res("text", "LTI2", 2, 2.2),
		res("audio", "S6", 1, 2.2), res("audio", "LTI", 1, 2.0), res("audio", "LTI2", 1, 2.1),
	}
	sum := Summarize(s, rs)
	c, _ := cellOf(sum, "text", "S6")
	if c.N != 2 || math.Abs(c.Mean-2.0) > 1e-12 || math.Abs(c.Std-math.Sqrt(0.02)) > 1e-12 {
		t.Errorf("text S6 cell %+v", c)
	}
	if c, _ := cellOf(sum, "audio", "S6"); c.N != 1 || c.Std != 0 {
		t.Errorf("audio S6 cell (one seed) %+v: want n 1, no spread", c)
	}
	// The best LTI variant for text is LTI2 (mean 2.3): gain (2.3−2.0)/2.3.
	if g := sum.Gain["text"]; math.Abs(g-0.3/2.3) > 1e-12 {
		t.Errorf("text gain %v, want %v", g, 0.3/2.3)
	}
	// Audio: selection hurts (negative gain).
	if g := sum.Gain["audio"]; math.Abs(g-(2.0-2.2)/2.0) > 1e-12 {
		t.Errorf("audio gain %v", g)
	}
	// Paired by seed against LTI2: seed 1 (2.4−1.9)/2.4, seed 2 (2.2−2.1)/2.2.
	pg := sum.PairedGain["text"]
	if len(pg) != 2 || math.Abs(pg[0]-0.5/2.4) > 1e-12 || math.Abs(pg[1]-0.1/2.2) > 1e-12 {
		t.Errorf("text paired gains %v", pg)
	}
	if pg := sum.PairedGain["audio"]; len(pg) != 1 || math.Abs(pg[0]-(2.0-2.2)/2.0) > 1e-12 {
		t.Errorf("audio paired gains %v", pg)
	}
	if sum.Baseline["text"] != 3 {
		t.Errorf("baseline %v", sum.Baseline["text"])
	}
	dir := t.TempDir()
	if err := WriteReport(s, rs, dir); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	// Cells differ in their number of seeds: each says its n; a spread only from two.
	for _, want := range []string{
		"| text | byte | 3.0000 | 2.0000 ± 0.1414 (n = 2) | 2.5000 ± 0.0000 (n = 2) | 2.3000 ± 0.1414 (n = 2) | +13.0% | +12.7% ± 11.5 (2/2) |",
		"| audio | sample |", "| 2.2000 (n = 1) |", "-10.0% | -10.0% (0/1) |",
	} {
		if !strings.Contains(strings.ReplaceAll(string(b), "| audio | byte |", "| audio | sample |"), want) {
			t.Errorf("report lacks %q:\n%s", want, b)
		}
	}
	for _, f := range []string{"spectrum.png", "bpu-text.png", "bpu-audio.png", "curves-text.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("no %s: %v", f, err)
		}
	}
}

// TestReportText checks report.md's budget (YAML, axes as lists), its
// one-seed cells (a value and n, no ±), the axes' columns and rows, and its
// run paths (relative to the report).
func TestReportText(t *testing.T) {
	s, err := parseSpec([]byte("budget: {preset: tiny, steps: 20, lr: [1.0e-3, 3.0e-3], baseline_order: 1}\nmodalities: [{name: dna}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	s.Name = "lr"
	root := t.TempDir()
	runs, err := s.Runs(filepath.Join(root, "runs"))
	if err != nil {
		t.Fatal(err)
	}
	var rs []Result
	for i, r := range runs {
		rs = append(rs, Result{Run: r, Unit: "base", BitsPerUnit: 1.9 + 0.1*float64(i), Baseline: 1.95, Step: 20, Steps: 20,
			TokensPerSec: 1000, WallSeconds: 3, Curve: []Point{{20, 1.9}}})
	}
	out := filepath.Join(root, "report")
	if err := WriteReport(s, rs, out); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(out, "report.md"))
	got := string(b)
	for _, want := range []string{
		"# Comparison: lr\n",
		"2 runs over modalities dna; variants S6; lr 0.001, 0.003; seeds 1.",
		"```yaml\npreset: tiny\nsteps: 20\nlr: [0.001, 0.003]\nbaseline_order: 1\n```",
		"One seed per cell (n = 1)",
		"| modality | lr | unit | best Markov baseline | S6 |",
		"| dna | 0.001 | base | 1.9500 | 1.9000 |",
		"| dna | 0.003 | base | 1.9500 | 2.0000 |",
		"| modality | variant | lr | seed | step | validation | answer accuracy | tokens/s | wall time | directory |\n|" + strings.Repeat(" --- |", 10) + "\n",
		"| dna | S6 | 0.003 | 1 | 20/20 | 2.0000 | - | 1000 | 3s | [../runs/dna/S6/lr=0.003/seed-1](../runs/dna/S6/lr=0.003/seed-1) |",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	for _, bad := range []string{"±", "map[", root, "spectrum.png", "selection gain"} {
		if strings.Contains(got, bad) {
			t.Errorf("report has %q (one seed, no LTI variant, relative paths only):\n%s", bad, got)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "curves-dna.png")); err != nil {
		t.Error(err)
	}
}

func TestBudgetYAML(t *testing.T) {
	got, err := budgetYAML(map[string]any{"lr": []any{0.001, 0.003}, "d_model": 64, "tbptt": true, "nonselective": []string{"B"}})
	if err != nil {
		t.Fatal(err)
	}
	// train.Config's order; lists in flow style.
	if want := "d_model: 64\nnonselective: [B]\nlr: [0.001, 0.003]\ntbptt: true\n"; got != want {
		t.Errorf("budget YAML\n%s\nwant\n%s", got, want)
	}
	if got, _ := budgetYAML(nil); got != "{}\n" {
		t.Errorf("empty budget: %q", got)
	}
}
