package compare

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestGrid checks the expansion of a spec into runs: every budget list an
// axis, modalities × variants × axes × seeds, the first axis slowest, each
// run's configuration and directory.
func TestGrid(t *testing.T) {
	s, err := parseSpec([]byte(`
budget:
  preset: tiny
  steps: 5
  d_model: [32, 64]
  lr: [1.0e-3, 3.0e-3, 0.01]
seeds: [1, 2]
modalities: [{name: dna}, {name: text, label: prose, data: [a.txt]}]
variants: [{name: S6}, {name: LTI, nonselective: [delta, B, C]}]
`))
	if err != nil {
		t.Fatal(err)
	}
	if want := []Axis{{"d_model", []string{"32", "64"}}, {"lr", []string{"0.001", "0.003", "0.01"}}}; fmt.Sprint(s.Axes) != fmt.Sprint(want) {
		t.Errorf("axes %v, want %v", s.Axes, want)
	}
	rs, err := s.Runs("out")
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2*2*2*3*2 {
		t.Fatalf("%d runs, want 48", len(rs))
	}
	var names []string
	for _, r := range rs[:7] {
		names = append(names, r.Name)
	}
	want := []string{"dna/S6/d_model=32,lr=0.001/seed-1", "dna/S6/d_model=32,lr=0.001/seed-2", "dna/S6/d_model=32,lr=0.003/seed-1",
		"dna/S6/d_model=32,lr=0.003/seed-2", "dna/S6/d_model=32,lr=0.01/seed-1", "dna/S6/d_model=32,lr=0.01/seed-2", "dna/S6/d_model=64,lr=0.001/seed-1"}
	if !slices.Equal(names, want) {
		t.Errorf("first runs %q, want %q", names, want)
	}
	seen := map[string]bool{}
	for _, r := range rs {
		if seen[r.Dir] {
			t.Errorf("two runs in %s", r.Dir)
		}
		seen[r.Dir] = true
		if r.Dir != filepath.Join("out", filepath.FromSlash(r.Name)) {
			t.Errorf("run %s in %s", r.Name, r.Dir)
		}
	}
	r := rs[len(rs)-1] // prose, LTI, d_model 64, lr 0.01, seed 2
	c := r.Config
	if r.Name != "prose/LTI/d_model=64,lr=0.01/seed-2" || c.DModel != 64 || c.LR != 0.01 || c.Seed != 2 || c.Steps != 5 ||
		c.Preset != "tiny" || !slices.Equal(c.NonSelective, []string{"delta", "B", "C"}) || c.SeqLen != 256 {
		t.Errorf("last run %s: config %+v", r.Name, c)
	}
	if !slices.Equal(r.Settings, []Setting{{"d_model", "64"}, {"lr", "0.01"}}) {
		t.Errorf("settings %v", r.Settings)
	}
	if got := r.args(false); !slices.Equal(got, []string{"train", "--modality", "text", "--out", r.Dir, "--config", filepath.Join(r.Dir, configFile), "--data", "a.txt"}) {
		t.Errorf("args %q", got)
	}
	if got := r.args(true); !slices.Equal(got, []string{"train", "--resume", r.Dir, "--steps", "5"}) {
		t.Errorf("resume args %q", got)
	}

	// Without axes, a run's directory is MODALITY/VARIANT/seed-N; without
	// variants, S6 alone.
	s, err = parseSpec([]byte("budget: {steps: 10}\nmodalities: [{name: dna}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if rs, _ := s.Runs("out"); len(rs) != 1 || rs[0].Dir != filepath.Join("out", "dna", "S6", "seed-1") || !rs[0].Variant.Selective() {
		t.Errorf("runs %+v", rs)
	}
	if rs, err := Quick().Runs("x"); err != nil || len(rs) != 9 {
		t.Errorf("quick spec: %d runs, %v", len(rs), err)
	}
	if rs, err := Default().Runs("x"); err != nil || len(rs) != 3*7*3 {
		t.Errorf("default spec: %d runs, %v", len(rs), err)
	}
}

// TestGridOptions checks that the modality's data and options reach the
// run's command line, sorted.
func TestGridOptions(t *testing.T) {
	s := Quick()
	s.Modalities[0].Data = []string{"a.fa", "b.fa"}
	s.Modalities[0].Options = map[string]string{"z": "1", "a": "2"}
	rs, err := s.Runs("out")
	if err != nil {
		t.Fatal(err)
	}
	r := rs[1] // dna, LTI
	want := []string{"train", "--modality", "dna", "--out", r.Dir, "--config", filepath.Join(r.Dir, configFile),
		"--data", "a.fa", "--data", "b.fa", "--option", "a=2", "--option", "z=1"}
	if got := r.args(false); !slices.Equal(got, want) {
		t.Errorf("args %q, want %q", got, want)
	}
	if c := r.Config; c.DModel != 64 || c.Steps != 150 || c.BaselineOrder != 3 || c.EvalTokens != 32768 || !r.Variant.LTI() {
		t.Errorf("config %+v", c)
	}
}

// TestSpecErrors checks that a bad spec is refused with one line naming
// the key.
func TestSpecErrors(t *testing.T) {
	const mods = "modalities: [{name: dna}]\n"
	for name, tc := range map[string]struct{ spec, want string }{
		"unknown budget key": {"budget: {stepz: 3}\n" + mods, `budget: unknown key "stepz"`},
		"unknown spec key":   {mods + "extra: 1\n", `unknown key "extra" in the spec`},
		"unknown in a modality": {"modalities: [{name: dna, lable: x}]\n",
			`unknown key "lable" in a modality`},
		"unknown in a variant": {mods + "variants: [{name: S6, selective: [B]}]\n", `unknown key "selective" in a variant`},
		"not a number":         {"budget: {lr: fast}\n" + mods, `budget: lr: "fast" is not a number`},
		"not whole":            {"budget: {d_model: [32, 64.5]}\n" + mods, "budget: d_model: 64.5 is not a whole number"},
		"not a bool":           {"budget: {tbptt: maybe}\n" + mods, `budget: tbptt: "maybe" is not true or false`},
		"empty axis":           {"budget: {lr: []}\n" + mods, "budget: lr is an empty list"},
		"repeated value":       {"budget: {lr: [0.001, 1.0e-3]}\n" + mods, "budget: lr lists 0.001 twice"},
		"no value":             {"budget: {lr: }\n" + mods, "budget: lr has no value"},
		"seed in budget":       {"budget: {seed: [1, 2]}\n" + mods, "budget: seed is set per run: list the seeds under seeds:"},
		"nonselective":         {"budget: {nonselective: [B]}\n" + mods, "budget: nonselective is set per run"},
		"threads":              {"budget: {threads: 2}\n" + mods, "budget: threads is set per run"},
		"out of range":         {"budget: {lr: [0.001, 20]}\n" + mods, "run dna/S6/lr=20/seed-1: lr = 20: out of range"},
		"bad preset":           {"budget: {preset: [tiny, huge]}\n" + mods, `run dna/S6/preset=huge/seed-1: preset "huge"`},
		"path in a value":      {"budget: {a_init: [random, ../x]}\n" + mods, `budget: a_init: "../x" cannot be part of a run's directory name`},
		"no modalities":        {"budget: {}\n", "modalities: a spec needs at least one modality"},
		"empty":                {"", "the spec is empty"},
		"duplicate variant":    {mods + "variants: [{name: S6}, {name: S6}]\n", "variants: names must be present and distinct"},
		"bad nonselective":     {mods + "variants: [{name: X, nonselective: [A]}]\n", `variant X: nonselective "A" is not delta, B or C`},
		"bad a_init":           {mods + "variants: [{name: X, a_init: zero}]\n", `variant X: a_init "zero"`},
		"same label":           {"modalities: [{name: synthetic}, {name: synthetic}]\n", `modalities: two labelled "synthetic"`},
		"label with a slash":   {"modalities: [{name: text, label: a/b}]\n", `modalities: label "a/b" names a directory`},
		"seed twice":           {mods + "seeds: [1, 1]\n", "seeds: 1 is listed twice"},
		"seed not a number":    {mods + "seeds: [one]\n", "cannot unmarshal"},
	} {
		_, err := parseSpec([]byte(tc.spec))
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %q, want one line with %q", name, err, tc.want)
		}
	}
}

func FuzzParseSpec(f *testing.F) {
	f.Add([]byte("budget: {preset: tiny, lr: [1.0e-3, 3.0e-3]}\nseeds: [1, 2]\nmodalities: [{name: dna}]\nvariants: [{name: S6}, {name: LTI, nonselective: [delta, B, C]}]\n"))
	f.Add([]byte("budget: {d_model: [16, 32], layers: [1, 2], steps: 3}\nmodalities: [{name: text, label: t, options: {a: b}}]\n"))
	f.Add([]byte("modalities: [{name: x}]\nbudget: {lr: [], tbptt: [true, false]}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 4096 {
			t.Skip()
		}
		s, err := parseSpec(b)
		if err != nil {
			return
		}
		rs, err := s.Runs("out")
		if err != nil {
			t.Fatalf("a checked spec does not expand: %v", err)
		}
		seen := map[string]bool{}
		for _, r := range rs {
			if seen[r.Dir] {
				t.Fatalf("two runs in %s", r.Dir)
			}
			seen[r.Dir] = true
			if !strings.HasPrefix(r.Dir, "out"+string(filepath.Separator)) || strings.Contains(r.Name, "..") {
				t.Fatalf("run %s outside out: %s", r.Name, r.Dir)
			}
		}
	})
}

// TestCheckRecorded: a run directory trained with other settings than the
// spec now gives it is refused, naming the setting; steps may change.
func TestCheckRecorded(t *testing.T) {
	s, err := parseSpec([]byte("budget: {preset: tiny, steps: 20, lr: 0.002, warmup: 0}\nmodalities: [{name: dna}]\nvariants: [{name: LTI, nonselective: [delta, B, C]}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	rs, _ := s.Runs("out")
	r := rs[0]
	recorded := r.Config
	recorded.Threads = 2
	if err := recorded.Resolve(); err != nil {
		t.Fatal(err)
	}
	keys := specKeys(s)
	if err := checkRecorded(r, keys, recorded); err != nil {
		t.Errorf("the same settings refused: %v", err)
	}
	r.Config.Steps = 40
	if err := checkRecorded(r, keys, recorded); err != nil {
		t.Errorf("more steps refused: %v", err)
	}
	for key, edit := range map[string]func(*Run){
		`lr "0.002", the spec now says "0.003"`: func(r *Run) { r.Config.LR = 0.003 },
		"nonselective":                          func(r *Run) { r.Config.NonSelective = nil },
		"seed":                                  func(r *Run) { r.Config.Seed = 2 },
	} {
		r := rs[0]
		edit(&r)
		if err := checkRecorded(r, keys, recorded); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("changed %s: %v", key, err)
		}
	}
}
