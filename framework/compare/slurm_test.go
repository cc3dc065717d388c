package compare

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestArrayRanges(t *testing.T) {
	for _, c := range []struct {
		idx  []int
		want string
	}{
		{[]int{0}, "0"},
		{[]int{0, 1, 2, 3}, "0-3"},
		{[]int{0, 1, 2, 3, 5, 7, 8, 9}, "0-3,5,7-9"},
		{[]int{2, 4, 6}, "2,4,6"},
		{[]int{1, 2, 10, 11, 12, 40}, "1-2,10-12,40"},
	} {
		if got := ArrayRanges(c.idx); got != c.want {
			t.Errorf("ArrayRanges(%v) = %q, want %q", c.idx, got, c.want)
		}
	}
}

func testSlurmJob(out string) SlurmJob {
	return SlurmJob{Exe: "/opt/mamba kit/mambakit", Name: "lr", SpecArgs: []string{"/specs/lr.yaml"}, Out: out, Dir: "/home/u/work"}
}

// TestSlurmScripts checks the scripts' lines: every option given, none of
// those not given, and the command of task $SLURM_ARRAY_TASK_ID quoted
// for bash.
func TestSlurmScripts(t *testing.T) {
	j := testSlurmJob("/scratch/cmp")
	j.Partition, j.Account, j.Time, j.GPUsPerRun, j.CPUsPerRun = "gpu,gpu-long", "lab-42", "1-12:00:00", 2, 8
	a := j.ArrayScript(6)
	for _, want := range []string{"#!/bin/bash\n", "#SBATCH --job-name=mambakit-lr\n", "#SBATCH --output=/scratch/cmp/slurm/%A_%a.out\n",
		"#SBATCH --chdir=/home/u/work\n", "#SBATCH --partition=gpu,gpu-long\n", "#SBATCH --account=lab-42\n", "#SBATCH --ntasks=1\n",
		"#SBATCH --cpus-per-task=8\n", "#SBATCH --gres=gpu:2\n", "#SBATCH --time=1-12:00:00\n", "#SBATCH --signal=B:INT@120\n",
		"\nexec '/opt/mamba kit/mambakit' compare /specs/lr.yaml --out /scratch/cmp --only-run \"$SLURM_ARRAY_TASK_ID\"\n"} {
		if !strings.Contains(a, want) {
			t.Errorf("array script lacks %q:\n%s", want, a)
		}
	}
	c := j.CollectScript()
	for _, want := range []string{"#SBATCH --job-name=mambakit-lr-report\n", "#SBATCH --output=/scratch/cmp/slurm/report-%j.out\n",
		"#SBATCH --partition=gpu,gpu-long\n", "\nexec '/opt/mamba kit/mambakit' compare /specs/lr.yaml --out /scratch/cmp --collect\n"} {
		if !strings.Contains(c, want) {
			t.Errorf("collect script lacks %q:\n%s", want, c)
		}
	}
	if strings.Contains(c, "--gres") || strings.Contains(c, "--time") {
		t.Errorf("the report's job asks for the runs' GPUs or time:\n%s", c)
	}
	plain := testSlurmJob("/scratch/cmp")
	plain.Name, plain.SpecArgs = "my spec", []string{"--quick"}
	a = plain.ArrayScript(6)
	for _, unwanted := range []string{"--partition", "--account", "--time", "--gres", "--cpus-per-task"} {
		if strings.Contains(a, unwanted) {
			t.Errorf("%s not given, but in the script:\n%s", unwanted, a)
		}
	}
	if !strings.Contains(a, "--job-name=mambakit-compare\n") || !strings.Contains(a, "compare --quick --out /scratch/cmp --only-run") {
		t.Errorf("a spec name with a space, --quick:\n%s", a)
	}
	d := j.DryRun([]int{1, 2, 3, 5}, 6)
	if !strings.Contains(d, "sbatch --parsable --array=1-3,5 /scratch/cmp/slurm/array.sbatch\n") || !strings.Contains(d, a[:0]+"--dependency=afterany:") {
		t.Errorf("dry run:\n%s", d)
	}
}

func TestSlurmCheck(t *testing.T) {
	for _, c := range []struct {
		edit func(*SlurmJob)
		want string
	}{
		{func(j *SlurmJob) { j.Partition = "gpu long" }, "--partition"},
		{func(j *SlurmJob) { j.Account = "a\n#SBATCH --x" }, "--account"},
		{func(j *SlurmJob) { j.Time = "4h" }, "--time \"4h\""},
		{func(j *SlurmJob) { j.Time = "1:2:3:4" }, "--time"},
		{func(j *SlurmJob) { j.GPUsPerRun = -1 }, "--gpus-per-run -1"},
		{func(j *SlurmJob) { j.CPUsPerRun = -2 }, "--cpus-per-run -2"},
		{func(j *SlurmJob) { j.Out = "/scratch/my runs" }, "--out"},
		{func(j *SlurmJob) { j.Out = "/scratch/100%" }, "--out"},
		{func(j *SlurmJob) { j.Dir = "/home/$USER" }, "the working directory"},
	} {
		j := testSlurmJob("/scratch/cmp")
		c.edit(&j)
		if err := j.Check(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want %q", j, err, c.want)
		}
	}
	for _, tl := range []string{"90", "30:00", "4:00:00", "2-0", "2-12:00", "2-12:00:00", "infinite"} {
		j := testSlurmJob("/scratch/cmp")
		j.Time = tl
		if err := j.Check(); err != nil {
			t.Errorf("--time %s: %v", tl, err)
		}
	}
}

// fakeSbatch puts on PATH an sbatch that appends its arguments to
// DIR/calls and prints job id 41+n (or, with fail, fails as sbatch does).
func fakeSbatch(t *testing.T, fail bool) string {
	dir := t.TempDir()
	script := "#!/bin/sh\necho \"$*\" >> " + dir + "/calls\nn=$(wc -l < " + dir + "/calls)\necho $((41 + n))\n"
	if fail {
		script = "#!/bin/sh\necho 'sbatch: error: invalid partition specified: nope' >&2\necho 'sbatch: error: Batch job submission failed' >&2\nexit 1\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "sbatch"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return dir
}

func TestSubmit(t *testing.T) {
	out := t.TempDir()
	calls := fakeSbatch(t, false)
	j := testSlurmJob(out)
	sub, err := j.Submit(context.Background(), []int{0, 1, 3}, 4)
	if err != nil {
		t.Fatal(err)
	}
	if sub.ArrayID != "42" || sub.CollectID != "43" || sub.Array != "0-1,3" {
		t.Fatalf("%+v", sub)
	}
	b, _ := os.ReadFile(filepath.Join(calls, "calls"))
	want := "--parsable --array=0-1,3 " + filepath.Join(out, "slurm", "array.sbatch") + "\n" +
		"--parsable --dependency=afterany:42 " + filepath.Join(out, "slurm", "collect.sbatch") + "\n"
	if string(b) != want {
		t.Fatalf("sbatch calls:\n%s\nwant:\n%s", b, want)
	}
	for path, text := range map[string]string{sub.ArrayScript: j.ArrayScript(4), sub.CollectScript: j.CollectScript()} {
		if got, err := os.ReadFile(path); err != nil || string(got) != text {
			t.Errorf("%s: %v\n%s", path, err, got)
		}
	}
}

func TestSubmitErrors(t *testing.T) {
	out := t.TempDir()
	t.Setenv("PATH", t.TempDir())
	j := testSlurmJob(out)
	if _, err := j.Submit(context.Background(), []int{0}, 1); !errors.Is(err, ErrNoSbatch) {
		t.Fatalf("no sbatch: %v", err)
	}
	t.Setenv("PATH", "/usr/bin:/bin")
	fakeSbatch(t, true)
	_, err := j.Submit(context.Background(), []int{0}, 1)
	if err == nil || !strings.Contains(err.Error(), "invalid partition specified: nope") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("sbatch failing: %v, want one line with sbatch's message", err)
	}
}

func TestSlurmThreads(t *testing.T) {
	for _, c := range []struct {
		env  []string
		want int
	}{
		{nil, 0},
		{[]string{"SLURM_CPUS_ON_NODE", "4"}, 4},
		{[]string{"SLURM_CPUS_PER_TASK", "8", "SLURM_CPUS_ON_NODE", "16"}, 8},
		{[]string{"SLURM_CPUS_PER_TASK", "x"}, 0},
	} {
		m := map[string]string{}
		for i := 0; i+1 < len(c.env); i += 2 {
			m[c.env[i]] = c.env[i+1]
		}
		if got := SlurmThreads(func(k string) string { return m[k] }); got != c.want {
			t.Errorf("%v: %d, want %d", c.env, got, c.want)
		}
	}
}

// checkpointAt makes r's directory hold a run at step (a trainer.json,
// which train.ReadRunInfo reads from a checkpoint), with its config.yaml
// and metrics.jsonl, trained with cfg.
func checkpointAt(t *testing.T, r Run, step int) {
	t.Helper()
	writeRun(t, r.Dir, func(rec *runRecord) { rec.Config = r.Config }, 1.9)
	b, err := json.Marshal(map[string]any{"step": step, "vocab_size": 12, "config": r.Config})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.Dir, "trainer.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestUnfinishedAndCollect checks which runs an array still has to train,
// and that --collect reports only a comparison whose runs are all finished.
func TestUnfinishedAndCollect(t *testing.T) {
	s, err := parseSpec([]byte("budget: {preset: tiny, steps: 10, lr: [0.001, 0.002]}\nseeds: [1, 2]\nmodalities: [{name: dna}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	rs, err := s.Runs(out)
	if err != nil || len(rs) != 4 {
		t.Fatal(len(rs), err)
	}
	checkpointAt(t, rs[0], 10)
	checkpointAt(t, rs[1], 5)
	checkpointAt(t, rs[2], 10)
	idx, err := Unfinished(s, out)
	if err != nil || len(idx) != 2 || idx[0] != 1 || idx[1] != 3 {
		t.Fatalf("unfinished %v, %v; want [1 3]", idx, err)
	}
	_, err = CollectFinished(s, out)
	if err == nil || !strings.Contains(err.Error(), "2 of 4 runs") || !strings.Contains(err.Error(), rs[1].Name+" at step 5 of 10") ||
		!strings.Contains(err.Error(), rs[3].Name+" not started") {
		t.Fatalf("collect with unfinished runs: %v", err)
	}
	checkpointAt(t, rs[1], 10)
	checkpointAt(t, rs[3], 12)
	if idx, err := Unfinished(s, out); err != nil || len(idx) != 0 {
		t.Fatalf("all finished: %v, %v", idx, err)
	}
	res, err := CollectFinished(s, out)
	if err != nil || len(res) != 4 {
		t.Fatalf("collect: %d results, %v", len(res), err)
	}
	// A directory trained with another learning rate is refused, naming it.
	other := rs[0]
	other.Config.LR = 0.5
	checkpointAt(t, other, 10)
	if _, err := Unfinished(s, out); err == nil || !strings.Contains(err.Error(), "lr") {
		t.Fatalf("a run trained with another lr: %v", err)
	}
}

// TestExecuteOneRange checks that a run index outside the spec is refused.
func TestExecuteOneRange(t *testing.T) {
	s, err := parseSpec([]byte("budget: {preset: tiny, steps: 10}\nmodalities: [{name: dna}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{-1, 1} {
		if err := ExecuteOne(context.Background(), s, t.TempDir(), i, 1, Options{}); err == nil || !strings.Contains(err.Error(), "the spec has 1 runs") {
			t.Errorf("run %d: %v", i, err)
		}
	}
}
