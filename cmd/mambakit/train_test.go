package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
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
	fa := filepath.Join(dir, "held.fa")
	os.WriteFile(fa, []byte(">held\n"+strings.Repeat("ACGTTGCAAGGCTTAACG", 40)+"\n"), 0o644)
	out = run(t, "eval", "--checkpoint", runDir, "--data", fa)
	if !regexp.MustCompile(`(?m)^bits_per_unit=[0-9.]+ unit=base\n$`).MatchString(out) {
		t.Fatalf("eval's last line is not bits_per_unit=<n> unit=base:\n%s", out)
	}
	gen := filepath.Join(dir, "gen.fa")
	run(t, "generate", "--checkpoint", runDir, "--prompt", "ACGT", "--tokens", "30", "-o", gen)
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
