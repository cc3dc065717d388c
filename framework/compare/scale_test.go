package compare

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestFollowingAxis: a setting that follows an axis takes, in each run,
// the value at the axis's position (equal tokens per step over a context
// sweep), and names no runs of its own.
func TestFollowingAxis(t *testing.T) {
	s, err := parseSpec([]byte(`
budget:
  preset: tiny
  steps: 5
  seq_len: [1024, 4096, 16384]
  batch: {follows: seq_len, values: [16, 4, 1]}
modalities: [{name: dna}]
variants: [{name: S6}, {name: LTI, nonselective: [delta, B, C]}]
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Axes) != 1 || s.Axes[0].Key != "seq_len" {
		t.Errorf("axes %v, want seq_len alone", s.Axes)
	}
	rs, err := s.Runs("out")
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2*3 {
		t.Fatalf("%d runs, want 6", len(rs))
	}
	for _, r := range rs {
		if got := r.Config.SeqLen * r.Config.Batch; got != 16384 {
			t.Errorf("%s: seq_len %d × batch %d = %d tokens a step, want 16384", r.Name, r.Config.SeqLen, r.Config.Batch, got)
		}
		if strings.Contains(r.Name, "batch") {
			t.Errorf("%s: a following setting named the run", r.Name)
		}
	}
	if keys := specKeys(s); !slices.Contains(keys, "batch") {
		t.Errorf("specKeys %v: a resumed run must have been trained with the batch the spec gives it", keys)
	}
	y, err := budgetYAML(s.Budget)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(y, "batch: {follows: seq_len, values: [16, 4, 1]}") {
		t.Errorf("budget YAML:\n%s", y)
	}
}

// TestModalityBudget: a modality's budget sets its runs alone, over the
// spec's budget.
func TestModalityBudget(t *testing.T) {
	s, err := parseSpec([]byte(`
budget: {preset: tiny, steps: 5, seq_len: 256, lr: [0.001, 0.003]}
modalities:
  - {name: dna}
  - {name: audio, budget: {seq_len: 2048, batch: 2}}
`))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := s.Runs("out")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		want, wantB := 256, 8
		if r.Modality.Name == "audio" {
			want, wantB = 2048, 2
		}
		if r.Config.SeqLen != want || r.Config.Batch != wantB {
			t.Errorf("%s: seq_len %d batch %d, want %d and %d", r.Name, r.Config.SeqLen, r.Config.Batch, want, wantB)
		}
	}
	text, err := modalityBudgetsText(s)
	if err != nil || !strings.Contains(text, "audio sets, for its runs alone:") || !strings.Contains(text, "seq_len: 2048") {
		t.Errorf("report text %q, %v", text, err)
	}
}

func TestScaleSpecErrors(t *testing.T) {
	const mods = "modalities: [{name: dna}]\n"
	for name, tc := range map[string]struct{ spec, want string }{
		"follows a non-axis":     {"budget: {seq_len: 512, batch: {follows: seq_len, values: [4]}}\n" + mods, "budget: batch follows seq_len, which is not an axis"},
		"follows an unknown key": {"budget: {seq_len: [512], batch: {follows: seqlen, values: [4]}}\n" + mods, "budget: batch follows seqlen, which is not an axis"},
		"follows, count":         {"budget: {seq_len: [512, 1024], batch: {follows: seq_len, values: [4]}}\n" + mods, "budget: batch follows seq_len: 1 values for its 2"},
		"a map without follows":  {"budget: {batch: {values: [4]}}\n" + mods, "budget: batch: a map must be {follows: AXIS, values: [...]}"},
		"a map, unknown key":     {"budget: {batch: {follow: seq_len, values: [4]}}\n" + mods, `budget: batch: a map must be {follows: AXIS, values: [...]}, one value for each of the axis's: unknown key "follow"`},
		"follows, bad value":     {"budget: {seq_len: [512], batch: {follows: seq_len, values: [x]}}\n" + mods, `budget: batch: "x" is not a whole number`},
		"modality budget list":   {"modalities: [{name: dna, budget: {lr: [0.1, 0.2]}}]\n", "modality dna: budget: lr: a modality's budget takes single values"},
		"modality budget axis":   {"budget: {lr: [0.001, 0.002]}\nmodalities: [{name: dna, budget: {lr: 0.1}}]\n", "modality dna: budget: lr is an axis of the spec's budget"},
		"modality budget key":    {"modalities: [{name: dna, budget: {stepz: 1}}]\n", `modality dna: budget: unknown key "stepz"`},
		"modality budget range":  {"modalities: [{name: dna, budget: {lr: 20}}]\n", "run dna/S6/seed-1: lr = 20: out of range"},
		"device":                 {mods + "device: tpu\n", `device "tpu": want cpu or cuda`},
		"tf32 on the cpu":        {mods + "tf32: true\n", "tf32: true needs device: cuda"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parseSpec([]byte(tc.spec))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// TestExecuteOnGPUs: on cuda, Execute trains --jobs runs at once on each
// GPU, each process held to its GPU by CUDA_VISIBLE_DEVICES (an entry of
// the parent's own list when it has one) and given --device cuda and
// --tf32. The processes here are a script that records what it got.
func TestExecuteOnGPUs(t *testing.T) {
	for _, tc := range []struct {
		name, visible string
		want          []string
	}{
		{"ordinals", "", []string{"0", "1"}},
		{"the parent's list", "3,5", []string{"3", "5"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			rec := filepath.Join(dir, "record")
			exe := filepath.Join(dir, "mambakit")
			script := "#!/bin/sh\necho \"$CUDA_VISIBLE_DEVICES $*\" >> " + rec + "\n"
			if err := os.WriteFile(exe, []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			t.Setenv("CUDA_VISIBLE_DEVICES", tc.visible)
			s, err := parseSpec([]byte("budget: {preset: tiny, steps: 3}\nseeds: [1, 2, 3, 4]\nmodalities: [{name: dna}]\ndevice: cuda\ntf32: true\n"))
			if err != nil {
				t.Fatal(err)
			}
			_, err = Execute(context.Background(), s, filepath.Join(dir, "out"), Options{Exe: exe, Jobs: 1, GPUs: 2})
			if err == nil {
				t.Fatal("runs that wrote no checkpoint did not fail")
			}
			b, err := os.ReadFile(rec)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			if len(lines) != 4 {
				t.Fatalf("%d processes, want one a run (4):\n%s", len(lines), b)
			}
			gpus := map[string]bool{}
			for _, l := range lines {
				gpu, args, _ := strings.Cut(l, " ")
				gpus[gpu] = true
				if !strings.HasPrefix(args, "train --modality dna") || !strings.HasSuffix(args, "--device cuda --tf32") {
					t.Errorf("process arguments %q", args)
				}
			}
			for _, g := range tc.want {
				if !gpus[g] {
					t.Errorf("no run on GPU %s (%v)", g, gpus)
				}
			}
			if len(gpus) != len(tc.want) {
				t.Errorf("runs on GPUs %v, want %v", gpus, tc.want)
			}
		})
	}
}
