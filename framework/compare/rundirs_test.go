package compare

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mambakit/mambakit/framework/train"
)

// writeRun writes a run directory as train leaves it: config.yaml (the
// resolved configuration and the plugin) and metrics.jsonl with an
// evaluation at steps 5 and 10 (the last one bpu).
func writeRun(t *testing.T, dir string, edit func(*runRecord), bpu float64) {
	t.Helper()
	rec := runRecord{Config: train.Defaults(), Modality: train.Plugin{Name: "dna", Version: "0.1.0", Unit: "base"}, Vocab: 12}
	rec.Preset, rec.Steps, rec.Threads = "tiny", 10, 1
	rec.Baseline.Order, rec.Baseline.BPU = 2, 1.95
	edit(&rec)
	if err := rec.Config.Resolve(); err != nil {
		t.Fatal(err)
	}
	b, err := yaml.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "config.yaml"), b, 0o644)
	var m strings.Builder
	for step := 1; step <= 10; step++ {
		fmt.Fprintf(&m, `{"step":%d,"loss":1.4,"lr":0.001,"grad_norm":1,"tokens_per_s":1000`, step)
		if step%5 == 0 {
			fmt.Fprintf(&m, `,"val_loss":1.3,"val_bits_per_unit":%v`, bpu+float64(10-step)/100)
		}
		m.WriteString("}\n")
	}
	os.WriteFile(filepath.Join(dir, "metrics.jsonl"), []byte(m.String()), 0o644)
}

// TestReadRuns groups existing runs by the settings they differ in: the
// learning rate is an axis, the seeds are a cell's samples, the variant is
// named from nonselective; threads, eval_every and min_lr (derived from
// lr) are not axes.
func TestReadRuns(t *testing.T) {
	root := t.TempDir()
	runs := filepath.Join(root, "runs")
	lti := []string{"delta", "B", "C"}
	for _, r := range []struct {
		name    string
		lr      float64
		seed    uint64
		nonSel  []string
		threads int
		bpu     float64
	}{
		{"r1", 0.001, 1, nil, 1, 1.90}, {"r2", 0.001, 2, nil, 2, 1.92}, {"r3", 0.003, 1, nil, 1, 1.80},
		{"r4", 0.003, 2, nil, 1, 1.84}, {"r5", 0.001, 1, lti, 1, 1.99},
	} {
		writeRun(t, filepath.Join(runs, r.name), func(rec *runRecord) {
			rec.LR, rec.Seed, rec.NonSelective, rec.Threads = r.lr, r.seed, r.nonSel, r.threads
			rec.EvalEvery = 5 + int(r.seed)
		}, r.bpu)
	}
	// A quoted pattern works: ReadRuns expands it.
	s, res, err := ReadRuns([]string{filepath.Join(runs, "r*")})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(s.Axes) != fmt.Sprint([]Axis{{"lr", []string{"0.001", "0.003"}}}) {
		t.Errorf("axes %v, want lr only", s.Axes)
	}
	if len(s.Variants) != 2 || s.Variants[0].Name != "S6" || s.Variants[1].Name != "LTI" || !s.Variants[1].LTI() ||
		len(s.Modalities) != 1 || s.Modalities[0].Label != "dna" || !slices.Equal(s.Seeds, []uint64{1, 2}) {
		t.Errorf("spec %+v", s)
	}
	if s.Budget["d_model"] != 64 || s.Budget["threads"] != nil || s.Budget["min_lr"] != nil || fmt.Sprint(s.Budget["lr"]) != "[0.001 0.003]" {
		t.Errorf("budget %v", s.Budget)
	}
	var order []string
	for _, r := range res {
		order = append(order, filepath.Base(r.Dir))
	}
	if !slices.Equal(order, []string{"r1", "r2", "r5", "r3", "r4"}) { // lr, then S6 before LTI, then seed
		t.Errorf("runs in order %v", order)
	}
	sum := Summarize(s, res)
	if c, ok := cellOf(sum, "dna lr=0.001", "S6"); !ok || c.N != 2 || c.Label != "S6 lr=0.001" || c.Mean < 1.909 || c.Mean > 1.911 {
		t.Errorf("cell dna lr=0.001 S6: %+v", c)
	}
	if _, ok := sum.Gain["dna lr=0.001"]; !ok {
		t.Error("no gain of selection where S6 and LTI both ran")
	}
	if _, ok := sum.Gain["dna lr=0.003"]; ok {
		t.Error("a gain of selection without an LTI run")
	}
	out := filepath.Join(root, "report")
	if err := WriteReport(s, res, out); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(out, "report.md"))
	for _, want := range []string{"# Comparison: 5 runs", "lr: [0.001, 0.003]", "Budget: the training settings the runs share", "| dna | 0.001 | base | 1.9500 | 1.9100 ± 0.0141 (n = 2) | 1.9900 (n = 1) |",
		"[../runs/r5](../runs/r5)"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("report lacks %q:\n%s", want, b)
		}
	}
}

func TestReadRunsRefuses(t *testing.T) {
	root := t.TempDir()
	runs := filepath.Join(root, "cmp")
	writeRun(t, filepath.Join(runs, "dna", "S6", "seed-1"), func(*runRecord) {}, 1.9)
	writeRun(t, filepath.Join(runs, "dna", "S6", "seed-2"), func(r *runRecord) { r.Seed = 2 }, 1.9)
	fresh := filepath.Join(root, "fresh")
	os.MkdirAll(fresh, 0o755)
	os.WriteFile(filepath.Join(fresh, "config.yaml"), []byte("steps: 3\n"), 0o644)
	file := filepath.Join(root, "notes.txt")
	os.WriteFile(file, nil, 0o644)
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"a comparison's directory": {[]string{runs}, fmt.Sprintf("%s is not a run directory (no config.yaml); it holds 2 runs: give them, as in compare '%s'", runs, filepath.Join(runs, "*", "*", "*"))},
		"an empty directory":       {[]string{root + "/cmp/dna"}, "is not a run directory (no config.yaml); it holds 2 runs"},
		"missing":                  {[]string{filepath.Join(root, "nope")}, filepath.Join(root, "nope") + ": no such run directory"},
		"a file":                   {[]string{file}, "notes.txt is not a run directory (not a directory)"},
		"a pattern matching none":  {[]string{filepath.Join(root, "x*")}, "matches nothing"},
		"a bad pattern":            {[]string{filepath.Join(root, "[")}, "syntax error in pattern"},
		"no evaluation yet":        {[]string{fresh}, "fresh: no evaluation yet (no metrics.jsonl)"},
		"nothing":                  {nil, "no run directories given"},
	} {
		_, _, err := ReadRuns(tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", name, err, tc.want)
		}
	}
	// The same runs given twice (a pattern and a name) count once.
	if _, res, err := ReadRuns([]string{filepath.Join(runs, "dna", "S6", "*"), filepath.Join(runs, "dna", "S6", "seed-1")}); err != nil || len(res) != 2 {
		t.Errorf("%d runs, %v", len(res), err)
	}
}

// TestReadRunsData tells runs of one plugin on different data apart.
func TestReadRunsData(t *testing.T) {
	root := t.TempDir()
	writeRun(t, filepath.Join(root, "a"), func(*runRecord) {}, 1.9)
	writeRun(t, filepath.Join(root, "b"), func(r *runRecord) { r.Options = map[string]string{"k": "3"}; r.Vocab = 70 }, 1.8)
	s, res, err := ReadRuns([]string{filepath.Join(root, "a"), filepath.Join(root, "b")})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Modalities) != 2 || res[0].Modality.Label != "dna-data1" || res[1].Modality.Label != "dna-data2" || len(s.Axes) != 0 {
		t.Errorf("modalities %+v, axes %v", s.Modalities, s.Axes)
	}
}

func TestVariantOf(t *testing.T) {
	for _, tc := range []struct {
		nonSel  []string
		complex bool
		aInit   string
		want    string
	}{
		{nil, false, "", "S6"}, {[]string{"delta", "B", "C"}, false, "", "LTI"}, {[]string{"C", "B", "delta"}, true, "", "LTI-complex"},
		{[]string{"B", "C"}, false, "", "delta-only"}, {[]string{"C"}, false, "", "delta+B"}, {nil, true, "random", "S6-complex-randomA"},
	} {
		if v := variantOf(tc.nonSel, tc.complex, tc.aInit); v.Name != tc.want {
			t.Errorf("variantOf(%v, %v, %q) = %s, want %s", tc.nonSel, tc.complex, tc.aInit, v.Name, tc.want)
		}
	}
}

func FuzzParseRunConfig(f *testing.F) {
	f.Add([]byte("preset: tiny\nd_model: 64\nnonselective: []\nlr: 0.002\nseed: 1\nmodality:\n  name: dna\n  unit: base\nvocab_size: 12\nbaseline:\n  markov_order: 1\n  bits_per_unit: 1.98\n"))
	f.Add([]byte("prepare_options: {vocab: \"512\"}\nsteps: -1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 4096 {
			t.Skip()
		}
		rec, err := parseRunConfig(b)
		if err != nil {
			return
		}
		v := variantOf(rec.NonSelective, rec.Complex, rec.AInit)
		if v.Name == "" {
			t.Fatal("a variant without a name")
		}
		groupRuns([]string{"a", "b"}, []runRecord{rec, rec})
	})
}
