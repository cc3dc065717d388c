//go:build linux

package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mambakit/mambakit/framework/train"
)

// compareSpec is a grid of two tiny runs (the learning rate an axis) on the
// bundled DNA sample, long enough to be interrupted.
const compareSpec = `budget:
  preset: tiny
  seq_len: 64
  batch: 2
  steps: 600
  lr: [0.002, 0.004]
  eval_every: 300
  save_every: 600
  log_every: 10
  eval_tokens: 500
  sample_tokens: 0
  baseline_order: 1
modalities: [{name: dna}]
`

// interruptCompare runs "compare spec --out out" in its own process and
// sends it SIGINT once its first run has logged step 20: to the process,
// or to its whole process group, as a terminal's Ctrl-C does. It returns
// the run's stdout lines and stderr, checking the exit status (130), that
// no further run started, and that the first run kept a checkpoint, whose
// step it returns.
func interruptCompare(t *testing.T, spec, out string, group bool) (stdout, stderr string, step int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "compare", spec, "--out", out)
	cmd.Env = append(os.Environ(), "MAMBAKIT_TEST_CLI=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a group of its own, as a shell's job
	var errb bytes.Buffer
	cmd.Stderr = &errb
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var got []string
	timeout := time.After(120 * time.Second)
	const progress = "[1/2] dna/S6/lr=0.002/seed-1: step 20/600 loss "
wait:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("compare ended before its first run's step 20:\n%s\n%s", strings.Join(got, "\n"), errb.String())
			}
			got = append(got, l)
			if strings.HasPrefix(l, progress) {
				break wait
			}
		case <-timeout:
			t.Fatalf("no line %q:\n%s", progress, strings.Join(got, "\n"))
		}
	}
	if group {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
	} else {
		cmd.Process.Signal(syscall.SIGINT)
	}
	for l := range lines {
		got = append(got, l)
	}
	err = cmd.Wait()
	stdout = strings.Join(got, "\n")
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Errorf("exit %v, want status 130\n%s\n%s", err, stdout, errb.String())
	}
	if strings.Contains(stdout, "[2/2]") {
		t.Errorf("the second run started after Ctrl-C:\n%s", stdout)
	}
	info, err := train.ReadRunInfo(filepath.Join(out, "dna", "S6", "lr=0.002", "seed-1"))
	if err != nil {
		t.Fatalf("the interrupted run kept no checkpoint: %v\n%s\n%s", err, stdout, errb.String())
	}
	if info.Step < 20 || info.Step >= 600 {
		t.Fatalf("the interrupted run's checkpoint is at step %d, want 20..599", info.Step)
	}
	return stdout, errb.String(), info.Step
}

// TestCompareInterruptResume runs a comparison in its own process, stops it
// with Ctrl-C (SIGINT) during its first run, and runs the same command
// again: the progress lines carry the run's name; the interrupted run keeps
// a checkpoint and no further run starts; the exit status (130) and one
// line say so; the rerun resumes the first run, trains the second and
// writes the report; a third skips both. Then compare RUN_DIR... builds a
// report from the two run directories.
func TestCompareInterruptResume(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "lr.yaml")
	os.WriteFile(spec, []byte(compareSpec), 0o644)
	out := filepath.Join(dir, "cmp")
	run2 := filepath.Join(out, "dna", "S6", "lr=0.004", "seed-1")

	output, stderr, step := interruptCompare(t, spec, out, false)
	if !strings.Contains(output, "ETA") {
		t.Errorf("the progress lines show no ETA:\n%s", output)
	}
	want := "mambakit compare: interrupted by SIGINT (Ctrl-C): dna/S6/lr=0.002/seed-1 stopped at step " +
		strconv.Itoa(step) + " with a checkpoint; 0 of 2 runs finished; run the same command again to resume\n"
	if stderr != want {
		t.Errorf("stderr %q, want %q", stderr, want)
	}
	if _, err := os.Stat(run2); err == nil {
		t.Errorf("the second run's directory exists after Ctrl-C in the first")
	}

	// The same command again: the first run resumes, the second starts.
	t.Setenv("MAMBAKIT_TEST_CLI", "1") // the runs' processes are this test binary as mambakit
	o := run(t, "compare", spec, "--out", out)
	for _, want := range []string{
		"[1/2] dna/S6/lr=0.002/seed-1: resuming from step " + strconv.Itoa(step),
		"[1/2] dna/S6/lr=0.002/seed-1: step 600/600 loss",
		"[2/2] dna/S6/lr=0.004/seed-1: training",
		"[2/2] dna/S6/lr=0.004/seed-1: finished in",
		"report: " + filepath.Join(out, "report.md"),
	} {
		if !strings.Contains(o, want) {
			t.Errorf("rerun output lacks %q:\n%s", want, o)
		}
	}
	report, _ := os.ReadFile(filepath.Join(out, "report.md"))
	for _, want := range []string{"lr: [0.002, 0.004]", "| modality | lr | unit |", "| dna | 0.002 | base |", "| dna | 0.004 | base |",
		"One seed per cell (n = 1)", "| 600/600 |", "[dna/S6/lr=0.004/seed-1](dna/S6/lr=0.004/seed-1)"} {
		if !strings.Contains(string(report), want) {
			t.Errorf("report.md lacks %q:\n%s", want, report)
		}
	}
	if strings.Contains(string(report), dir) || strings.Contains(string(report), "±") {
		t.Errorf("report.md has an absolute path or a spread over one seed:\n%s", report)
	}
	o = run(t, "compare", spec, "--out", out)
	if strings.Count(o, "done earlier (step 600), skipped") != 2 {
		t.Errorf("a third run does not skip both runs:\n%s", o)
	}

	// A report of the existing runs, one given by a quoted pattern.
	rep := filepath.Join(dir, "rep")
	o = run(t, "compare", filepath.Join(out, "dna", "S6", "lr=0.00[24]", "seed-1"), "--out", rep)
	if !strings.Contains(o, "report of 2 runs") {
		t.Errorf("compare RUN_DIR... output:\n%s", o)
	}
	report, _ = os.ReadFile(filepath.Join(rep, "report.md"))
	for _, want := range []string{"| modality | lr | unit |", "| dna | 0.004 | base |", "[../cmp/dna/S6/lr=0.002/seed-1](../cmp/dna/S6/lr=0.002/seed-1)"} {
		if !strings.Contains(string(report), want) {
			t.Errorf("report of the run directories lacks %q:\n%s", want, report)
		}
	}
	var ob, eb bytes.Buffer
	if code := mainExit([]string{"compare", out, "--out", rep}, &ob, &eb); code != 1 ||
		!strings.Contains(eb.String(), "is not a run directory (no config.yaml); it holds 2 runs") {
		t.Errorf("compare on the comparison's directory: exit %d, %q", code, eb.String())
	}
}

// TestCompareCtrlCAtTerminal sends SIGINT to the whole process group, as a
// terminal's Ctrl-C does: the runs are in a group of their own, so each
// gets one SIGINT (from compare), not two (the second would end it at once,
// without a checkpoint).
func TestCompareCtrlCAtTerminal(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "lr.yaml")
	os.WriteFile(spec, []byte(compareSpec), 0o644)
	interruptCompare(t, spec, filepath.Join(dir, "cmp"), true)
}
