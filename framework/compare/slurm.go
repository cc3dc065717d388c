package compare

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/mambakit/mambakit/internal/atomicfile"
)

// SlurmJob is a comparison to run as a Slurm array job (compare --slurm;
// docs/compare.md, "On Slurm"): task i of the array runs
// `compare ... --only-run i`, which trains run i of the spec alone, and a
// job that depends on the array (afterany) writes the report with
// `compare ... --collect`.
type SlurmJob struct {
	Exe  string // the mambakit binary, an absolute path the nodes reach
	Name string // the spec's name (the jobs' names)
	// SpecArgs are compare's arguments that name the spec: an absolute
	// SPEC.yaml, "--quick", or nothing for the default spec.
	SpecArgs []string
	Out      string // the comparison's directory, absolute
	Dir      string // the working directory of the tasks (relative data paths): the submitter's

	Partition, Account string // "": the cluster's default
	Time               string // each task's time limit, in Slurm's forms (90, 4:00:00, 2-00:00:00); "": the partition's
	GPUsPerRun         int    // --gres=gpu:N per task; 0: none
	CPUsPerRun         int    // --cpus-per-task; 0: Slurm's default (one, on most clusters)
}

// slurmDir holds the scripts and the tasks' logs, under the comparison's
// directory.
const slurmDir = "slurm"

// The forms of a time limit that sbatch --time takes.
var slurmTimeRE = regexp.MustCompile(`^([0-9]+(:[0-9]{1,2}){0,2}|[0-9]+-[0-9]+(:[0-9]{1,2}){0,2}|infinite|unlimited|UNLIMITED)$`)

// slurmNameRE is what a partition (a list of them) or an account may hold.
var slurmNameRE = regexp.MustCompile(`^[A-Za-z0-9._,+-]+$`)

// slurmPathRE is what a path written on an #SBATCH line may hold: sbatch
// splits those lines at spaces and reads % in --output as a pattern.
var slurmPathRE = regexp.MustCompile(`^[^\s%"'\\$` + "`" + `]+$`)

// Check refuses settings that sbatch would refuse or misread, naming the
// flag.
func (j *SlurmJob) Check() error {
	switch {
	case j.Partition != "" && !slurmNameRE.MatchString(j.Partition):
		return fmt.Errorf("--partition %q: letters, digits and . _ , + - only", j.Partition)
	case j.Account != "" && !slurmNameRE.MatchString(j.Account):
		return fmt.Errorf("--account %q: letters, digits and . _ , + - only", j.Account)
	case j.Time != "" && !slurmTimeRE.MatchString(j.Time):
		return fmt.Errorf("--time %q: want minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS (Slurm's forms)", j.Time)
	case j.GPUsPerRun < 0:
		return fmt.Errorf("--gpus-per-run %d: want 0 or more", j.GPUsPerRun)
	case j.CPUsPerRun < 0:
		return fmt.Errorf("--cpus-per-run %d: want 0 or more", j.CPUsPerRun)
	}
	for _, p := range []struct{ what, path string }{{"--out", j.Out}, {"the working directory", j.Dir}} {
		if !slurmPathRE.MatchString(p.path) {
			return fmt.Errorf("%s %q: a path on an #SBATCH line cannot hold spaces, quotes, $, ` or %%", p.what, p.path)
		}
	}
	return nil
}

// plainRE is a word bash reads as it is.
var plainRE = regexp.MustCompile(`^[A-Za-z0-9_./:=+,@%-]+$`)

// shellQuote quotes s for bash: as it is when plain, else in single
// quotes.
func shellQuote(s string) string {
	if plainRE.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// command is the mambakit command line of a script, then its extra
// arguments (bash, quoted).
func (j *SlurmJob) command(extra ...string) string {
	args := append([]string{j.Exe, "compare"}, j.SpecArgs...)
	args = append(args, "--out", j.Out)
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = shellQuote(a)
	}
	return strings.Join(append(parts, extra...), " ")
}

// header is the #SBATCH lines both scripts share.
func (j *SlurmJob) header(b *bytes.Buffer) {
	fmt.Fprintf(b, "#SBATCH --chdir=%s\n", j.Dir)
	if j.Partition != "" {
		fmt.Fprintf(b, "#SBATCH --partition=%s\n", j.Partition)
	}
	if j.Account != "" {
		fmt.Fprintf(b, "#SBATCH --account=%s\n", j.Account)
	}
	b.WriteString("#SBATCH --ntasks=1\n")
}

// jobName names the jobs: mambakit-SPEC, or mambakit-compare when the
// spec's name is not a plain word.
func (j *SlurmJob) jobName() string {
	if nameRE.MatchString(j.Name) {
		return "mambakit-" + j.Name
	}
	return "mambakit-compare"
}

// ArrayScript is the array job's script: task i trains run i. The time
// limit is the task's; 120 s before it, Slurm sends SIGINT to compare,
// which stops the run with a checkpoint (the next submission resumes it).
func (j *SlurmJob) ArrayScript(runs int) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "#!/bin/bash\n# Written by `mambakit compare --slurm` for the comparison %s (%d runs; docs/compare.md, \"On Slurm\").\n", j.Name, runs)
	b.WriteString("# Task i of the array trains run i of the spec alone: a finished run is skipped, a started one resumed.\n")
	fmt.Fprintf(&b, "#SBATCH --job-name=%s\n", j.jobName())
	fmt.Fprintf(&b, "#SBATCH --output=%s/%%A_%%a.out\n", filepath.Join(j.Out, slurmDir))
	j.header(&b)
	if j.CPUsPerRun > 0 {
		fmt.Fprintf(&b, "#SBATCH --cpus-per-task=%d\n", j.CPUsPerRun)
	}
	if j.GPUsPerRun > 0 {
		fmt.Fprintf(&b, "#SBATCH --gres=gpu:%d\n", j.GPUsPerRun)
	}
	if j.Time != "" {
		fmt.Fprintf(&b, "#SBATCH --time=%s\n", j.Time)
	}
	b.WriteString("#SBATCH --signal=B:INT@120\n")
	fmt.Fprintf(&b, "exec %s\n", j.command("--only-run", `"$SLURM_ARRAY_TASK_ID"`))
	return b.String()
}

// CollectScript is the script of the job that writes the report once the
// array has ended (however its tasks ended: --collect says which runs are
// not finished).
func (j *SlurmJob) CollectScript() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "#!/bin/bash\n# Written by `mambakit compare --slurm`: the report of %s, once its array job has ended.\n", j.Name)
	fmt.Fprintf(&b, "#SBATCH --job-name=%s-report\n", j.jobName())
	fmt.Fprintf(&b, "#SBATCH --output=%s/report-%%j.out\n", filepath.Join(j.Out, slurmDir))
	j.header(&b)
	fmt.Fprintf(&b, "exec %s\n", j.command("--collect"))
	return b.String()
}

// ArrayRanges writes indices (ascending) as sbatch --array takes them:
// 0-3,5,7-9.
func ArrayRanges(idx []int) string {
	var parts []string
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && idx[j+1] == idx[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(idx[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", idx[i], idx[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// Submission is what Submit did: the scripts and the jobs' ids.
type Submission struct {
	ArrayScript, CollectScript string // their paths
	ArrayID, CollectID         string
	Array                      string // the --array indices
}

// ErrNoSbatch is Submit's error when sbatch is not on PATH.
var ErrNoSbatch = errors.New("sbatch not found on PATH: compare --slurm submits from a Slurm login node (--dry-run prints the scripts without submitting)")

// DryRun is what Submit would write and run, for --dry-run: both scripts
// and the two sbatch commands.
func (j *SlurmJob) DryRun(idx []int, runs int) string {
	dir := filepath.Join(j.Out, slurmDir)
	return fmt.Sprintf("# %s\n%s\n# %s\n%s\n# then:\nsbatch --parsable --array=%s %s\nsbatch --parsable --dependency=afterany:ARRAY_JOB_ID %s\n",
		filepath.Join(dir, "array.sbatch"), j.ArrayScript(runs), filepath.Join(dir, "collect.sbatch"), j.CollectScript(),
		ArrayRanges(idx), filepath.Join(dir, "array.sbatch"), filepath.Join(dir, "collect.sbatch"))
}

// SlurmThreads is the threads of a run in a Slurm task: the task's CPUs
// (SLURM_CPUS_PER_TASK, else SLURM_CPUS_ON_NODE); 0 outside Slurm (all
// the cores).
func SlurmThreads(getenv func(string) string) int {
	for _, k := range []string{"SLURM_CPUS_PER_TASK", "SLURM_CPUS_ON_NODE"} {
		if n, err := strconv.Atoi(getenv(k)); err == nil && n > 0 {
			return n
		}
	}
	return 0
}

// Submit writes the scripts into the comparison's directory (slurm/) and
// submits the array of the runs idx, then the report's job, which starts
// when the array has ended. sbatch is looked up on PATH.
func (j *SlurmJob) Submit(ctx context.Context, idx []int, runs int) (*Submission, error) {
	if len(idx) == 0 {
		return nil, errors.New("no run to submit")
	}
	sbatch, err := exec.LookPath("sbatch")
	if err != nil {
		return nil, ErrNoSbatch
	}
	dir := filepath.Join(j.Out, slurmDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("the scripts' directory: %w", err)
	}
	sub := &Submission{ArrayScript: filepath.Join(dir, "array.sbatch"), CollectScript: filepath.Join(dir, "collect.sbatch"), Array: ArrayRanges(idx)}
	if err := atomicfile.WriteFile(sub.ArrayScript, []byte(j.ArrayScript(runs)), 0o755); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(sub.CollectScript, []byte(j.CollectScript()), 0o755); err != nil {
		return nil, err
	}
	if sub.ArrayID, err = runSbatch(ctx, sbatch, "--parsable", "--array="+sub.Array, sub.ArrayScript); err != nil {
		return nil, fmt.Errorf("submit the array: %w", err)
	}
	if sub.CollectID, err = runSbatch(ctx, sbatch, "--parsable", "--dependency=afterany:"+sub.ArrayID, sub.CollectScript); err != nil {
		return sub, fmt.Errorf("submit the report's job (the array is job %s; compare --collect writes the report once it has ended): %w", sub.ArrayID, err)
	}
	return sub, nil
}

// jobIDRE is sbatch --parsable's answer: the job id, then ;CLUSTER on a
// federation.
var jobIDRE = regexp.MustCompile(`^([0-9]+)(;\S+)?$`)

// runSbatch runs sbatch and returns the job id it printed.
func runSbatch(ctx context.Context, sbatch string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, sbatch, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.Join(strings.Fields(stderr.String()), " ")
		if msg == "" {
			msg = err.Error()
		}
		return "", fmt.Errorf("sbatch %s: %s", strings.Join(args, " "), msg)
	}
	out := strings.TrimSpace(stdout.String())
	m := jobIDRE.FindStringSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("sbatch %s printed %q, not a job id", strings.Join(args, " "), out)
	}
	return m[1], nil
}
