//go:build faults && linux

package faults

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestConcurrentWriters: a run directory has one writer (issue 17, D1–D4).
// While a run trains, a second fresh run and a resume into its directory
// are refused, naming the owner's PID, and the owner's run ends equal to
// the uninterrupted one; two fresh runs started a moment apart, or two
// resumes at once, leave one run, equal to the uninterrupted one; readers
// (eval) of a run being written always find a whole checkpoint.
func TestConcurrentWriters(t *testing.T) {
	reference(t)
	try(t, classWriters, "second run and resume while one trains", func(t *testing.T) {
		run := filepath.Join(dir(t), "run")
		owner := start(t, tmp, nil, 120*time.Second, trainArgs(run)...)
		pid := strconv.Itoa(owner.pid())
		if !waitFor(30*time.Second, func() bool { return strings.Contains(owner.stdout.String(), "step 10/") }) {
			t.Fatalf("owner: %v", owner.wait())
		}
		for _, args := range [][]string{trainArgs(run), {"train", "--resume", run}} {
			r := start(t, tmp, nil, 30*time.Second, args...).wait()
			refused(t, r, "in use by process "+pid)
			if strings.Contains(r.stdout, "preparing") || strings.Contains(r.stdout, "step ") {
				t.Errorf("the refused command worked in the directory first:\n%s", r.stdout)
			}
			if owner.exited() {
				t.Fatal("the owner ended before the checks: a slower machine needs a longer run")
			}
		}
		ok(t, owner.wait())
		sameAsReference(t, run)
		noLeftovers(t)
	})
	for i := range 5 {
		try(t, classWriters, fmt.Sprintf("two fresh runs a moment apart %d", i), func(t *testing.T) {
			run := filepath.Join(dir(t), "run")
			a := start(t, tmp, nil, 120*time.Second, trainArgs(run)...)
			gap := random(0, 300*time.Millisecond)
			time.Sleep(gap)
			b := start(t, tmp, nil, 120*time.Second, trainArgs(run)...)
			ra, rb := a.wait(), b.wait()
			win, lose, winner := ra, rb, a
			if ra.code != 0 {
				win, lose, winner = rb, ra, b
			}
			ok(t, win)
			// The loser is refused naming the winner, or (when it came
			// after the winner's first checkpoint) told to resume.
			if !strings.Contains(lose.stderr, "already holds a run") {
				refused(t, lose, "in use by process "+strconv.Itoa(winner.pid()))
			} else {
				refused(t, lose, "already holds a run", "--resume")
			}
			sameAsReference(t, run)
			noLeftovers(t)
			t.Logf("%v apart: %s", gap.Round(time.Millisecond), strings.TrimSpace(lose.stderr))
		})
	}
	for i := range 4 {
		try(t, classWriters, fmt.Sprintf("two resumes at once %d", i), func(t *testing.T) {
			run := filepath.Join(dir(t), "run")
			p := start(t, tmp, nil, 120*time.Second, trainArgs(run)...)
			if !waitFor(30*time.Second, func() bool { return strings.Contains(p.stdout.String(), "step 50/") }) {
				t.Fatalf("no step 50: %v", p.wait())
			}
			p.cmd.Process.Signal(syscall.SIGINT)
			r := p.wait()
			ok(t, r)
			if !strings.Contains(r.stdout, "resume with") {
				t.Fatalf("interrupted run: %v", r)
			}
			a := start(t, tmp, nil, 120*time.Second, "train", "--resume", run)
			time.Sleep(random(0, 100*time.Millisecond))
			b := start(t, tmp, nil, 120*time.Second, "train", "--resume", run)
			ra, rb := a.wait(), b.wait()
			if (ra.code == 0) == (rb.code == 0) {
				t.Fatalf("want one resume to run and one refused:\n%v\n%v", ra, rb)
			}
			win, lose, winner := ra, rb, a
			if ra.code != 0 {
				win, lose, winner = rb, ra, b
			}
			ok(t, win)
			if !strings.Contains(lose.stderr, "already at step") {
				refused(t, lose, "in use by process "+strconv.Itoa(winner.pid()))
			}
			sameAsReference(t, run)
			noLeftovers(t)
			t.Logf("%s", strings.TrimSpace(lose.stderr))
		})
	}
	try(t, classWriters, "eval while the run writes checkpoints", func(t *testing.T) {
		run := filepath.Join(dir(t), "run")
		owner := start(t, tmp, nil, 120*time.Second, trainArgs(run)...)
		if !waitFor(30*time.Second, func() bool { return strings.Contains(owner.stdout.String(), "step 10/") }) {
			t.Fatalf("owner: %v", owner.wait())
		}
		n := 0
		for !owner.exited() {
			r := start(t, tmp, nil, 30*time.Second, "eval", "--checkpoint", run, "--data", testdata("dna", "ecoli_536_sample.fa")).wait()
			if r.code != 0 {
				t.Errorf("eval %d while training: %v", n, r)
				break
			}
			n++
		}
		ok(t, owner.wait())
		sameAsReference(t, run)
		noLeftovers(t)
		t.Logf("%d evals during the run", n)
	})
}
