package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mambakit/mambakit/framework/train"
)

// tinyConfig writes a training configuration small enough for tests.
func tinyConfig(t *testing.T, dir string) string {
	cfg := filepath.Join(dir, "tiny.yaml")
	os.WriteFile(cfg, []byte("d_model: 16\nlayers: 1\nd_state: 4\nseq_len: 64\nbatch: 2\neval_tokens: 500\nsample_tokens: 0\nschedule_steps: 6\n"), 0o644)
	return cfg
}

// TestRefusedRunKeepsData (D1): "train --out X" on a directory that holds a
// run is refused before anything is written there: the run's prepared data
// stays byte for byte, and the run resumes on it.
func TestRefusedRunKeepsData(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(t, dir)
	runDir := filepath.Join(dir, "run")
	run(t, "train", "--modality", "dna", "--out", runDir, "--config", cfg, "--steps", "2", "--eval-every", "2", "--threads", "1")
	tokens := filepath.Join(runDir, "data", "train.tokens")
	before, err := os.ReadFile(tokens)
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other.fa")
	os.WriteFile(other, []byte(">other\n"+strings.Repeat("GGGCCCAT", 400)+"\n"), 0o644)
	var out, errb bytes.Buffer
	code := mainExit([]string{"train", "--modality", "dna", "--out", runDir, "--data", other, "--config", cfg, "--steps", "2"}, &out, &errb)
	if code == 0 || !strings.Contains(errb.String(), "already holds a run") || !strings.Contains(errb.String(), "--resume") {
		t.Fatalf("second run into %s: exit %d, %q", runDir, code, errb.String())
	}
	if strings.Contains(out.String(), "preparing") {
		t.Errorf("the refused run prepared data:\n%s", out.String())
	}
	after, err := os.ReadFile(tokens)
	if err != nil || !bytes.Equal(before, after) {
		t.Fatalf("the refused run changed %s (%v)", tokens, err)
	}
	if o := run(t, "train", "--resume", runDir, "--steps", "4"); !strings.Contains(o, "done: step 4") {
		t.Fatalf("resume after the refusal:\n%s", o)
	}
}

// TestOneWriterPerRunDir (D2–D4): while one process trains into a run
// directory, a second fresh run into it and a resume of it are refused at
// once, naming the owner's PID, before either writes anything; once the
// owner has stopped (Ctrl-C: checkpoint, exit 0), the resume runs.
func TestOneWriterPerRunDir(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(t, dir)
	runDir := filepath.Join(dir, "run")
	owner := exec.Command(os.Args[0], "train", "--modality", "dna", "--out", runDir, "--config", cfg,
		"--steps", "100000", "--eval-every", "100000", "--save-every", "5", "--threads", "1")
	owner.Env = append(os.Environ(), "MAMBAKIT_TEST_CLI=1")
	var ownerOut bytes.Buffer
	owner.Stdout, owner.Stderr = &ownerOut, &ownerOut
	if err := owner.Start(); err != nil {
		t.Fatal(err)
	}
	defer owner.Process.Kill()
	pid := strconv.Itoa(owner.Process.Pid)
	// Wait until the owner has a checkpoint, so a resume has one to read.
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := train.LatestCheckpoint(runDir); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the owner wrote no checkpoint in 60 s:\n%s", ownerOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, args := range [][]string{
		{"train", "--modality", "dna", "--out", runDir, "--config", cfg, "--steps", "2"},
		{"train", "--resume", runDir, "--steps", "3"},
	} {
		var out, errb bytes.Buffer
		code := mainExit(args, &out, &errb)
		if code == 0 || !strings.Contains(errb.String(), "in use by process "+pid) {
			t.Fatalf("mambakit %s while process %s owns the run: exit %d, %q", strings.Join(args, " "), pid, code, errb.String())
		}
	}
	if err := owner.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := owner.Wait(); err != nil {
		t.Fatalf("owner after Ctrl-C: %v\n%s", err, ownerOut.String())
	}
	if !strings.Contains(ownerOut.String(), "interrupted at step") {
		t.Fatalf("owner output:\n%s", ownerOut.String())
	}
	// The owner's checkpoints are whole and the directory is free: the
	// run resumes from where the owner stopped.
	var step int
	if _, err := fmt.Sscanf(ownerOut.String()[strings.Index(ownerOut.String(), "interrupted at step"):], "interrupted at step %d", &step); err != nil {
		t.Fatal(err)
	}
	o := run(t, "train", "--resume", runDir, "--steps", strconv.Itoa(step+2), "--threads", "1")
	if !strings.Contains(o, "done: step "+strconv.Itoa(step+2)) {
		t.Fatalf("resume after the owner stopped:\n%s", o)
	}
}

// TestInterruptBeforeTraining (R4): Ctrl-C while the data is being
// prepared ends the command with exit 0 and one line saying nothing was
// saved, and the same command then starts the run.
func TestInterruptBeforeTraining(t *testing.T) {
	dir := t.TempDir()
	cfg := tinyConfig(t, dir)
	fa := filepath.Join(dir, "big.fa")
	seq := strings.Repeat("ACGTTGCAAGGCTTAACGGATC", 1<<20/22)
	var b strings.Builder
	for i := 0; i < 24; i++ { // 24 Mbp: preparing takes a while
		fmt.Fprintf(&b, ">r%d\n%s\n", i, seq)
	}
	os.WriteFile(fa, []byte(b.String()), 0o644)
	runDir := filepath.Join(dir, "run")
	args := []string{"train", "--modality", "dna", "--data", fa, "--out", runDir, "--config", cfg, "--steps", "2", "--threads", "1"}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "MAMBAKIT_TEST_CLI=1")
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(out.String(), "preparing"); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no 'preparing' line in 30 s:\n%s", out.String())
		}
	}
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	if err != nil || !strings.Contains(out.String(), "interrupted before training began: nothing was saved") {
		t.Fatalf("Ctrl-C while preparing: %v\n%s", err, out.String())
	}
	if o := run(t, args...); !strings.Contains(o, "done: step 2") {
		t.Fatalf("the same command after the interrupt:\n%s", o)
	}
}

// lockedBuffer is a bytes.Buffer a child process writes while the test
// reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
