package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/mambakit/mambakit/framework/bench"
	"github.com/mambakit/mambakit/framework/train"
)

func TestBadInvocationsGiveOneLine(t *testing.T) {
	for name, args := range map[string][]string{
		"unknown command": {"frobnicate"},
		"unknown bench":   {"bench", "nothing"},
		"no bench":        {"bench"},
		"zero batch":      {"bench", "train", "--batch", "0"},
		"zero accum":      {"bench", "train", "--accum", "0"},
		"bad flag value":  {"bench", "scan", "--seq-len", "many"},
		"negative thread": {"bench", "scan", "--threads", "-2"},
		"unknown loop":    {"bench", "peak", "--loops", "fp64-zmm"},
		"zero peak time":  {"bench", "peak", "--min-time", "0s"},
		"scan inputs":     {"bench", "scan", "--device", "cuda", "--inputs", "fp8"},
	} {
		t.Run(name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := mainExit(args, &out, &errb); code == 0 {
				t.Fatal("exit status 0")
			}
			msg := strings.TrimSpace(errb.String())
			if msg == "" || strings.Count(msg, "\n") > 0 {
				t.Errorf("want one line on stderr, got %q", msg)
			}
		})
	}
}

// TestPrecisionFlag: --precision takes fp32 or bf16 on train, eval,
// generate and the CPU bench train and generate; anything else is one
// line naming both, exit status 2; bf16 runs a few steps and says so.
func TestPrecisionFlag(t *testing.T) {
	for name, args := range map[string][]string{
		"train":       {"train", "--modality", "dna", "--precision", "fp16", "--out", t.TempDir()},
		"train upper": {"train", "--modality", "dna", "--precision", "BF16", "--out", t.TempDir()},
		"bench train": {"bench", "train", "--precision", "bf8"},
		"bench empty": {"bench", "train", "--precision", ""},
		"generate":    {"generate", "--checkpoint", t.TempDir(), "--precision", "fp64"},
		"eval":        {"eval", "--checkpoint", t.TempDir(), "--data", "x", "--precision", "int8"},
		"bench gen":   {"bench", "generate", "--precision", "half"},
	} {
		t.Run(name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := mainExit(args, &out, &errb)
			msg := strings.TrimSpace(errb.String())
			if code != 2 || strings.Contains(msg, "\n") || !strings.Contains(msg, "want fp32, tf32, bf16") {
				t.Errorf("exit %d, stderr %q; want 2 and one line naming fp32, tf32 and bf16", code, msg)
			}
		})
	}
	tiny := []string{"bench", "train", "--d-model", "16", "--layers", "1", "--d-state", "4", "--vocab", "16", "--batch", "2", "--seq-len", "32", "--steps", "2"}
	for _, p := range []string{"fp32", "bf16"} {
		out := run(t, append(tiny, "--precision", p)...)
		if !strings.Contains(out, p+" products") || !strings.Contains(out, "tokens_per_s=") {
			t.Errorf("bench train --precision %s:\n%s", p, out)
		}
	}
	gen := []string{"bench", "generate", "--d-model", "16", "--layers", "1", "--d-state", "4", "--vocab", "40", "--tokens", "4"}
	for p, dtype := range map[string]string{"fp32": "float32", "bf16": "bfloat16"} {
		out := run(t, append(gen, "--precision", p)...)
		if !strings.Contains(out, "of "+dtype+" read per token") || !strings.Contains(out, "tokens_per_s=") {
			t.Errorf("bench generate --precision %s:\n%s", p, out)
		}
	}
	// Placements the device cannot take are usage errors in one line:
	// tf32 on the CPU or beside another precision.
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "train", "--precision", "tf32"}, "tf32"},
		{[]string{"bench", "train", "--tf32", "--precision", "bf16", "--device", "cuda"}, "tf32"},
		{[]string{"train", "--modality", "dna", "--precision", "tf32", "--out", t.TempDir()}, "tf32"},
		{[]string{"eval", "--checkpoint", t.TempDir(), "--data", "x", "--tf32"}, "tf32"},
	} {
		var out, errb bytes.Buffer
		code := mainExit(tt.args, &out, &errb)
		if msg := strings.TrimSpace(errb.String()); code != 2 || strings.Contains(msg, "\n") || !strings.Contains(msg, tt.want) {
			t.Errorf("%q: exit %d, %q; want 2 and one line with %q", tt.args, code, msg, tt.want)
		}
	}
}

// TestBenchGenerateBF16OnGPU: --precision bf16 is taken on the GPU (its
// step's cuBLAS products read bfloat16): without a driver the command
// stops with the driver's one line, exit status 1, not a usage error.
func TestBenchGenerateBF16OnGPU(t *testing.T) {
	if train.CUDA.Available() == nil {
		t.Skip("this machine has a CUDA driver")
	}
	var out, errb bytes.Buffer
	code := mainExit([]string{"bench", "generate", "--device", "cuda", "--precision", "bf16", "--batch", "1,16", "--d-model", "16", "--layers", "1", "--vocab", "40"}, &out, &errb)
	msg := strings.TrimSpace(errb.String())
	if code != 1 || !strings.Contains(msg, "no NVIDIA driver") || strings.Contains(msg, "\n") {
		t.Errorf("exit %d, stderr %q; want 1 and one line saying there is no driver", code, msg)
	}
}

// TestScanInputsFlag: bench scan --inputs takes fp32 or bf16 (GPU); other
// values are a usage error (exit 2) naming the flag, before any GPU is
// opened, and bf16 on the CPU is refused.
func TestScanInputsFlag(t *testing.T) {
	var out, errb bytes.Buffer
	if code := mainExit([]string{"bench", "scan", "--device", "cuda", "--inputs", "fp8"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "--inputs") {
		t.Errorf("--inputs fp8: exit %d, %q", code, errb.String())
	}
	if err := bench.Scan(bench.ScanOptions{Device: train.CPU, B: 1, D: 1, N: 1, SeqLens: []int{1}, Inputs: "bf16"}, &out); err == nil || !strings.Contains(err.Error(), "GPU") {
		t.Errorf("bf16 inputs on the CPU: %v", err)
	}
}
