package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCompareSlurmFlags checks the Slurm flags' usage errors (status 2),
// a missing sbatch (status 1, one line), --collect before the runs are
// trained, and --dry-run's scripts; the real submission is
// scripts/slurm-test.sh's.
func TestCompareSlurmFlags(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "grid.yaml")
	os.WriteFile(spec, []byte(compareSpec), 0o644)
	out := filepath.Join(dir, "out")
	t.Setenv("PATH", t.TempDir()) // no sbatch
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--partition", "gpu"}, 2, "go with --slurm"},
		{[]string{"--slurm", "--collect"}, 2, "give one of --slurm, --collect and --only-run"},
		{[]string{"--slurm", "--jobs", "2"}, 2, "--jobs is for runs on this machine"},
		{[]string{"--only-run", "2"}, 2, "--only-run 2: the spec has 2 runs, 0 to 1"},
		{[]string{"--slurm", "--time", "4h"}, 2, `--time "4h"`},
		{[]string{"--slurm"}, 1, "sbatch not found on PATH"},
		{[]string{"--collect"}, 1, "2 of 2 runs in " + out + " are not finished"},
	} {
		var stdout, stderr bytes.Buffer
		code := mainExit(append([]string{"compare", spec, "--out", out}, c.args...), &stdout, &stderr)
		msg := strings.TrimSpace(stderr.String())
		if code != c.code || !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
			t.Errorf("%v: status %d, stderr %q; want %d and one line with %q", c.args, code, msg, c.code, c.want)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := mainExit([]string{"compare", spec, "--out", out, "--slurm", "--dry-run", "--gpus-per-run", "1"}, &stdout, &stderr); code != 0 {
		t.Fatalf("--dry-run: status %d: %s", code, stderr.String())
	}
	for _, want := range []string{"#SBATCH --gres=gpu:1\n", "compare " + spec + " --out " + out + " --only-run \"$SLURM_ARRAY_TASK_ID\"\n",
		"compare " + spec + " --out " + out + " --collect\n", "sbatch --parsable --array=0-1 "} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("--dry-run lacks %q:\n%s", want, stdout.String())
		}
	}
	if _, err := os.Stat(filepath.Join(out, "slurm")); err == nil {
		t.Error("--dry-run wrote the scripts")
	}
	// On cuda: a GPU per task unless told, and the tasks train on cuda too.
	stdout.Reset()
	if code := mainExit([]string{"compare", spec, "--out", out, "--slurm", "--dry-run", "--device", "cuda", "--tf32"}, &stdout, &stderr); code != 0 {
		t.Fatalf("--dry-run --device cuda: status %d: %s", code, stderr.String())
	}
	for _, want := range []string{"#SBATCH --gres=gpu:1\n", "compare " + spec + " --device cuda --tf32 --out " + out + " --only-run "} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("--dry-run --device cuda lacks %q:\n%s", want, stdout.String())
		}
	}
}
