package compare

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSummarizeGainAndSpread(t *testing.T) {
	s := &Spec{Seeds: []uint64{1, 2},
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
		return Result{Run: Run{Modality: Modality{Name: m, Label: m}, Variant: vv, Seed: seed}, BitsPerUnit: bpu, Baseline: 3, Unit: "byte"}
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
	for _, want := range []string{"| text | byte | 3.0000 | 2.0000 ± 0.1414 | 2.5000 ± 0.0000 | 2.3000 ± 0.1414 | +13.0% | +12.7% ± 11.5 (2/2) |", "| audio |", "-10.0% | -10.0% (0/1) |"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("report lacks %q:\n%s", want, b)
		}
	}
	for _, f := range []string{"spectrum.png", "bpu-text.png", "bpu-audio.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("no %s: %v", f, err)
		}
	}
}

func TestReadSpec(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "spec.yaml")
		os.WriteFile(p, []byte(s), 0o644)
		return p
	}
	s, err := ReadSpec(write("budget: {steps: 10}\nmodalities: [{name: dna}]\nvariants: [{name: S6}, {name: LTI, nonselective: [delta, B, C]}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Seeds) != 1 || !s.Variants[1].LTI() || !s.Variants[0].Selective() {
		t.Errorf("spec %+v", s)
	}
	if got := s.Runs("out"); len(got) != 2 || got[1].Dir != filepath.Join("out", "dna", "LTI", "seed-1") {
		t.Errorf("runs %+v", got)
	}
	for name, bad := range map[string]string{
		"unknown key":      "budget: {}\nmodalities: [{name: dna}]\nvariants: [{name: S6}]\nextra: 1\n",
		"no variants":      "modalities: [{name: dna}]\n",
		"duplicate":        "modalities: [{name: dna}]\nvariants: [{name: S6}, {name: S6}]\n",
		"bad nonselective": "modalities: [{name: dna}]\nvariants: [{name: X, nonselective: [A]}]\n",
		"seed in budget":   "budget: {seed: 3}\nmodalities: [{name: dna}]\nvariants: [{name: S6}]\n",
		"same label":       "modalities: [{name: synthetic}, {name: synthetic}]\nvariants: [{name: S6}]\n",
	} {
		if _, err := ReadSpec(write(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if q := Quick(); len(q.Runs("x")) != 9 {
		t.Errorf("quick spec has %d runs", len(q.Runs("x")))
	}
}
