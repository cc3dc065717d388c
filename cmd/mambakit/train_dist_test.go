package main

import (
	"bytes"
	"os"
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

// TestTrainRankFromEnv checks that a process that torchrun or srun
// placed in a job of several ranks is refused on the CPU at once, naming
// the variable that placed it, before any data is prepared.
func TestTrainRankFromEnv(t *testing.T) {
	for _, c := range []struct {
		env  []string
		want string
	}{
		{[]string{"RANK", "1", "WORLD_SIZE", "2", "LOCAL_RANK", "1", "MASTER_ADDR", "127.0.0.1", "MASTER_PORT", "29500"}, "rank 1 of a job of 2 (RANK is set)"},
		{[]string{"SLURM_STEP_ID", "0", "SLURM_PROCID", "0", "SLURM_STEP_NUM_TASKS", "4", "SLURM_STEP_NODELIST", "node[01-02]"}, "rank 0 of a job of 4 (SLURM_PROCID is set)"},
		{[]string{"SLURM_STEP_ID", "0", "SLURM_PROCID", "0", "SLURM_STEP_NUM_TASKS", "4", "SLURM_STEP_NODELIST", "node[01-"}, "SLURM_STEP_NODELIST: node list"},
	} {
		for i := 0; i < len(c.env); i += 2 {
			t.Setenv(c.env[i], c.env[i+1])
		}
		dir := filepath.Join(t.TempDir(), "run")
		var out, errb bytes.Buffer
		if code := mainExit([]string{"train", "--modality", "dna", "--out", dir}, &out, &errb); code == 0 {
			t.Fatalf("%v: exit 0", c.env)
		}
		msg := strings.TrimSpace(errb.String())
		if !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") || strings.Contains(out.String(), "preparing") {
			t.Fatalf("%v: stderr %q, stdout %q; want one line with %q and nothing prepared", c.env, msg, out.String(), c.want)
		}
		for i := 0; i < len(c.env); i += 2 {
			os.Unsetenv(c.env[i])
		}
	}
}
