package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// hfModel is a Hugging Face Mamba directory in the shape of
// state-spaces/mamba-130m-hf (testdata/mamba-hf/README.md).
const hfModel = "testdata/mamba-hf"

// fails runs the CLI in-process, wants a non-zero exit and returns the
// one-line error.
func fails(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := mainExit(args, &out, &errb); code == 0 {
		t.Fatalf("mambakit %s: exit 0\n%s", strings.Join(args, " "), out.String())
	}
	msg := strings.TrimSpace(errb.String())
	if strings.Contains(msg, "\n") {
		t.Errorf("mambakit %s: more than one line on stderr:\n%s", strings.Join(args, " "), msg)
	}
	return msg
}

// TestPretrainedModelDir: a Hugging Face model directory (no trainer.json,
// no mambakit.json, a GPT-NeoX-style tokenizer.json) is evaluated, scored
// and generated from with its tokenizer, fine-tuned with train
// --init-from, and the fine-tuned checkpoint, copied without its trainer
// state or run directory, is read back with its plugin and tokenizer.
func TestPretrainedModelDir(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "held.txt")
	var lines []string
	for i := range 60 {
		lines = append(lines, fmt.Sprintf("The cat number %d sat on the mat and looked at the dog.", i))
	}
	os.WriteFile(text, []byte(strings.Join(lines, "\n")+"\n"), 0o644)

	out := run(t, "eval", "--checkpoint", hfModel, "--data", text, "--batch", "2", "--seq-len", "32")
	if !strings.HasPrefix(out, "model "+hfModel+", ") || !regexp.MustCompile(`(?m)^bits_per_unit=[0-9.]+ unit=byte\n$`).MatchString(out) {
		t.Fatalf("eval of the Hugging Face directory:\n%s", out)
	}
	// 60 lines of ~55 bytes: a byte tokenizer would give over 3000 tokens;
	// the BPE about a third of that.
	if m := regexp.MustCompile(`, (\d+) tokens scored`).FindStringSubmatch(out); m == nil || atoi(m[1]) >= 3000 {
		t.Errorf("eval did not use the directory's tokenizer.json:\n%s", out)
	}
	gen := filepath.Join(dir, "gen.txt")
	run(t, "generate", "--checkpoint", hfModel, "--prompt", "The cat", "--tokens", "12", "--temperature", "0", "-o", gen)
	if b, err := os.ReadFile(gen); err != nil || !bytes.HasPrefix(b, []byte("The cat")) || len(b) <= len("The cat") {
		t.Fatalf("generate wrote %q, %v", b, err)
	}
	csv := run(t, "score", "--checkpoint", hfModel, text)
	if rows := strings.Count(csv, "\n"); rows < 100 || rows > 1500 {
		t.Errorf("score: %d CSV rows; want the BPE's tokens", rows)
	}

	// Fine-tune: the model's sizes and tokenizer, a fresh optimizer.
	cfg := filepath.Join(dir, "ft.yaml")
	os.WriteFile(cfg, []byte("seq_len: 32\nbatch: 2\neval_tokens: 500\nsample_tokens: 8\nbaseline_order: -1\nlr: 0.001\n"), 0o644)
	runDir := filepath.Join(dir, "ft")
	out = run(t, "train", "--init-from", hfModel, "--data", text, "--out", runDir, "--config", cfg,
		"--steps", "3", "--eval-every", "3", "--threads", "1")
	if !strings.Contains(out, "starting from the text model") || !strings.Contains(out, "vocabulary 2000") || !strings.Contains(out, "done: step 3") {
		t.Fatalf("train --init-from:\n%s", out)
	}
	ck := filepath.Join(runDir, "checkpoints", "step-00000003")
	tok, _ := os.ReadFile(filepath.Join(hfModel, "tokenizer.json"))
	if b, err := os.ReadFile(filepath.Join(ck, "tokenizer.json")); err != nil || !bytes.Equal(b, tok) {
		t.Errorf("the checkpoint's tokenizer.json is not the model's (%v)", err)
	}
	var hf struct {
		Vocab, Hidden, BOS, EOS, Pad int
	}
	b, _ := os.ReadFile(filepath.Join(ck, "config.json"))
	json.Unmarshal(b, &struct {
		Vocab  *int `json:"vocab_size"`
		Hidden *int `json:"hidden_size"`
		BOS    *int `json:"bos_token_id"`
		EOS    *int `json:"eos_token_id"`
		Pad    *int `json:"pad_token_id"`
	}{&hf.Vocab, &hf.Hidden, &hf.BOS, &hf.EOS, &hf.Pad})
	if hf.Vocab != 2008 || hf.Hidden != 16 || hf.BOS != 0 || hf.EOS != 0 || hf.Pad != 0 {
		t.Errorf("fine-tuned config.json: %+v; want the model's 2008 rows, width 16 and <|endoftext|> (0) as bos, eos, pad", hf)
	}
	abs, _ := filepath.Abs(hfModel)
	if y, _ := os.ReadFile(filepath.Join(runDir, "config.yaml")); !strings.Contains(string(y), "init_from: "+abs) {
		t.Errorf("config.yaml does not record where the run started:\n%s", y)
	}

	// The checkpoint as a model directory: no trainer state, no run.
	copied := filepath.Join(dir, "exported")
	os.Mkdir(copied, 0o755)
	for _, f := range []string{"config.json", "model.safetensors", "tokenizer.json", "mambakit.json"} {
		b, err := os.ReadFile(filepath.Join(ck, f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(copied, f), b, 0o644)
	}
	os.RemoveAll(runDir)
	out = run(t, "eval", "--checkpoint", copied, "--data", text, "--batch", "2", "--seq-len", "32")
	if !strings.HasPrefix(out, "model "+copied) || !strings.Contains(out, "unit=byte") {
		t.Fatalf("eval of the exported checkpoint:\n%s", out)
	}
	run(t, "generate", "--checkpoint", copied, "--prompt", "The dog", "--tokens", "8", "-o", gen)
	if b, _ := os.ReadFile(gen); !bytes.HasPrefix(b, []byte("The dog")) {
		t.Errorf("generate from the exported checkpoint wrote %q", b)
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// TestPretrainedRefusals: what cannot work is refused in one line that
// says why.
func TestPretrainedRefusals(t *testing.T) {
	dir := t.TempDir()
	fa := filepath.Join(dir, "x.fa")
	os.WriteFile(fa, []byte(">x\n"+strings.Repeat("ACGTTGCA", 200)+"\n>y\n"+strings.Repeat("GGCATTAC", 200)+"\n"), 0o644)
	bare := filepath.Join(dir, "bare") // weights without tokenizer.json or mambakit.json
	os.Mkdir(bare, 0o755)
	for _, f := range []string{"config.json", "model.safetensors"} {
		b, _ := os.ReadFile(filepath.Join(hfModel, f))
		os.WriteFile(filepath.Join(bare, f), b, 0o644)
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"train", "--init-from", bare, "--modality", "dna", "--data", fa, "--out", filepath.Join(dir, "r1"), "--steps", "1"},
			[]string{"12 token ids", "2008 embedding rows"}},
		{[]string{"train", "--init-from", hfModel, "--preset", "base", "--data", fa, "--out", filepath.Join(dir, "r2")},
			[]string{"--preset", "--init-from"}},
		{[]string{"train", "--init-from", hfModel, "--resume", dir}, []string{"--init-from", "cannot change when resuming"}},
		{[]string{"train", "--init-from", filepath.Join(dir, "nothing")}, []string{"init_from", "no config.json"}},
		{[]string{"eval", "--checkpoint", bare, "--data", fa}, []string{"--modality"}},
		{[]string{"generate", "--checkpoint", bare, "--modality", "dna"}, []string{"12 token ids", "2008 embedding rows"}},
	} {
		msg := fails(t, c.args...)
		for _, w := range c.want {
			if !strings.Contains(msg, w) {
				t.Errorf("mambakit %s: %q does not say %q", strings.Join(c.args, " "), msg, w)
			}
		}
	}
}
