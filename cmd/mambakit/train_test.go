package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mambakit/mambakit/framework/train"
)

// run calls the CLI in-process and returns stdout, failing on a non-zero exit.
func run(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := mainExit(args, &out, &errb); code != 0 {
		t.Fatalf("mambakit %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
	}
	return out.String()
}

// TestTrainEvalGenerateScore runs the user's path end to end on the bundled
// DNA sample with a tiny model: train, resume, eval, generate, score and
// baseline, through the built-in plugin in its own process.
func TestTrainEvalGenerateScore(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tiny.yaml")
	os.WriteFile(cfg, []byte("d_model: 16\nlayers: 1\nd_state: 4\nseq_len: 64\nbatch: 2\neval_tokens: 2000\nsample_tokens: 20\nschedule_steps: 6\n"), 0o644)
	runDir := filepath.Join(dir, "run")
	out := run(t, "train", "--modality", "dna", "--out", runDir, "--config", cfg, "--steps", "4", "--eval-every", "2", "--save-every", "2", "--threads", "1")
	if !strings.Contains(out, "bundled dna sample") || !strings.Contains(out, "done: step 4") {
		t.Fatalf("train output:\n%s", out)
	}
	out = run(t, "train", "--resume", runDir, "--steps", "6")
	if !strings.Contains(out, "done: step 6") {
		t.Fatalf("resume output:\n%s", out)
	}
	for _, f := range []string{"metrics.jsonl", "curves.png", "config.yaml", "samples/step-00000006.fa", "checkpoints/step-00000006/model.safetensors"} {
		if _, err := os.Stat(filepath.Join(runDir, f)); err != nil {
			t.Errorf("run directory lacks %s", f)
		}
	}
	// config.json carries the DNA plugin's special ids (eos = sep 1; bos the
	// same, the token before every document in training; pad 4), so
	// transformers' generate starts and stops where the model learned to.
	cfgJSON, _ := os.ReadFile(filepath.Join(runDir, "checkpoints/step-00000006/config.json"))
	for _, want := range []string{`"bos_token_id": 1`, `"eos_token_id": 1`, `"pad_token_id": 4`} {
		if !strings.Contains(string(cfgJSON), want) {
			t.Errorf("config.json lacks %s:\n%s", want, cfgJSON)
		}
	}
	fa := filepath.Join(dir, "held.fa")
	os.WriteFile(fa, []byte(">held\n"+strings.Repeat("ACGTTGCAAGGCTTAACG", 40)+"\n"), 0o644)
	out = run(t, "eval", "--checkpoint", runDir, "--data", fa)
	if !regexp.MustCompile(`(?m)^bits_per_unit=[0-9.]+ unit=base\n$`).MatchString(out) {
		t.Fatalf("eval's last line is not bits_per_unit=<n> unit=base:\n%s", out)
	}
	gen := filepath.Join(dir, "gen.fa")
	run(t, "generate", "--checkpoint", runDir, "--prompt", "ACGT", "--tokens", "30", "-o", gen, "--precision", "bf16")
	if b, err := os.ReadFile(gen); err != nil || !bytes.HasPrefix(b, []byte(">seq1\nACGT")) || bytes.Count(b, []byte(">")) != 1 {
		t.Fatalf("generate wrote %q, %v; want one FASTA record that continues the prompt", b, err)
	}
	if b, err := os.ReadFile(gen + ".json"); err != nil || !bytes.Contains(b, []byte(`"prompt_units": 4`)) {
		t.Fatalf("generate's boundary %s.json: %s, %v; want the prompt's 4 bases", gen, b, err)
	}
	out = run(t, "score", "--checkpoint", runDir, fa)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); lines[0] != "position,token,decoded,logprob_nats,bits" || !strings.HasPrefix(lines[1], "1,8,C,") || len(lines) < 100 {
		t.Fatalf("score CSV starts %q, %q with %d lines", lines[0], lines[1], len(lines))
	}
	out = run(t, "baseline", "--modality", "dna", "--data", fa, "--order", "2")
	if !strings.Contains(out, "best_order=2 bits_per_unit=") {
		t.Fatalf("baseline output:\n%s", out)
	}
}

func TestTrainBadInput(t *testing.T) {
	dir := t.TempDir()
	for name, args := range map[string][]string{
		"no modality":      {"train", "--out", dir},
		"unknown modality": {"train", "--modality", "klingon", "--out", dir},
		"missing data":     {"train", "--modality", "dna", "--data", filepath.Join(dir, "nope.fa"), "--out", dir},
		"bad preset":       {"train", "--modality", "dna", "--preset", "huge", "--out", dir},
		"resume nothing":   {"train", "--resume", dir},
		"eval no ckpt":     {"eval", "--data", "x.fa"},
		"generate no ckpt": {"generate", "--checkpoint", dir},
		"train device":     {"train", "--modality", "dna", "--device", "tpu", "--out", dir},
		"eval device":      {"eval", "--device", "gpu", "--checkpoint", dir},
		"generate device":  {"generate", "--device", "CUDA", "--checkpoint", dir},
	} {
		t.Run(name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := mainExit(args, &out, &errb); code == 0 {
				t.Fatal("exit status 0")
			}
			msg := strings.TrimSpace(errb.String())
			if msg == "" || strings.Contains(msg, "\n") {
				t.Errorf("want one line on stderr, got %q", msg)
			}
			if strings.HasSuffix(name, " device") && !strings.Contains(msg, "want cpu or cuda") {
				t.Errorf("stderr %q does not say which devices there are", msg)
			}
		})
	}
}

// TestResumeFlagsAndConfigRoundTrip: --resume applies the flags that may
// change (--steps, --save-every) and refuses the others by name; the run's
// config.yaml starts a new run as --config, with its recorded settings.
func TestResumeFlagsAndConfigRoundTrip(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tiny.yaml")
	os.WriteFile(cfg, []byte("d_model: 16\nlayers: 1\nd_state: 4\nseq_len: 64\nbatch: 2\neval_tokens: 500\nsample_tokens: 0\nschedule_steps: 6\nbaseline_order: -1\n"), 0o644)
	runDir := filepath.Join(dir, "run")
	run(t, "train", "--modality", "dna", "--out", runDir, "--config", cfg, "--steps", "2", "--eval-every", "2", "--threads", "1")
	var out, errb bytes.Buffer
	if code := mainExit([]string{"train", "--resume", runDir, "--steps", "4", "--lr", "0.5", "--seq-len", "8"}, &out, &errb); code != 2 ||
		!strings.Contains(errb.String(), "--lr, --seq-len cannot change when resuming a run") {
		t.Fatalf("resume with --lr and --seq-len: exit %d, %q", code, errb.String())
	}
	if o := run(t, "train", "--resume", runDir, "--steps", "4", "--save-every", "1", "--eval-every", "4", "--precision", "bf16"); !strings.Contains(o, "done: step 4") {
		t.Fatalf("resume output:\n%s", o)
	}
	if _, err := os.Stat(filepath.Join(runDir, "checkpoints", "step-00000003")); err != nil {
		t.Errorf("--save-every 1 on resume was not applied: %v", err)
	}
	again := filepath.Join(dir, "again")
	run(t, "train", "--modality", "dna", "--out", again, "--config", filepath.Join(runDir, "config.yaml"), "--steps", "2", "--save-every", "2")
	a, err1 := train.ReadRunInfo(runDir)
	b, err2 := train.ReadRunInfo(again)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if a.Config.DModel != 16 || b.Config.DModel != 16 || b.Config.SeqLen != 64 || b.Config.ScheduleSteps != 6 {
		t.Errorf("the run from config.yaml has d_model %d, seq_len %d, schedule_steps %d; want 16, 64, 6", b.Config.DModel, b.Config.SeqLen, b.Config.ScheduleSteps)
	}
}
