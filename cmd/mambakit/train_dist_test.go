package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mambakit/mambakit/framework/train"
)

// TestTrainGPUFlags checks the job flags' validation, which happens before
// any data is prepared or process started.
func TestTrainGPUFlags(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--gpus", "2"}, "--gpus and --nodes need --device cuda"},
		{[]string{"--device", "cuda", "--gpus", "0"}, "gpus 0: want at least 1"},
		{[]string{"--device", "cuda", "--gpus", "2", "--nodes", "2"}, "more than one node needs a coordinator HOST:PORT"},
		{[]string{"--device", "cuda", "--gpus", "2", "--nodes", "2", "--rank", "2", "--coordinator", "h:29500"}, "node rank 2 with 2 nodes"},
		{[]string{"--device", "cuda", "--gpus", "2", "--coordinator", "h"}, "want HOST:PORT"},
	} {
		args := append([]string{"train", "--modality", "dna", "--out", dir}, c.args...)
		var out, errb bytes.Buffer
		if code := mainExit(args, &out, &errb); code == 0 {
			t.Fatalf("%v: exit 0", c.args)
		}
		msg := strings.TrimSpace(errb.String())
		if !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
			t.Fatalf("%v: stderr %q, want one line with %q", c.args, msg, c.want)
		}
	}
}

// TestTrainWithoutGPU checks that --device cuda on a machine without the
// CUDA driver stops at once with one line, before any data is prepared.
func TestTrainWithoutGPU(t *testing.T) {
	if train.CUDA.Available() == nil {
		t.Skip("this machine has a CUDA driver")
	}
	dir := filepath.Join(t.TempDir(), "run")
	var out, errb bytes.Buffer
	if code := mainExit([]string{"train", "--modality", "dna", "--device", "cuda", "--out", dir}, &out, &errb); code == 0 {
		t.Fatal("exit 0")
	}
	msg := strings.TrimSpace(errb.String())
	if !strings.Contains(msg, "no NVIDIA driver") || strings.Contains(msg, "\n") {
		t.Fatalf("stderr %q, want one line saying there is no driver", msg)
	}
	if strings.Contains(out.String(), "preparing") {
		t.Errorf("data prepared before the device check:\n%s", out.String())
	}
}
