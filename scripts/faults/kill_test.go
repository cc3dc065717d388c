//go:build faults && linux

package faults

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// killStats counts where the kills of TestKillAndResume landed.
var killStats struct {
	sync.Mutex
	kills, beforeTraining, midCheckpoint, afterEnd int
}

// TestKillAndResume kills the host with SIGKILL at a random moment of a
// run (preparing the data, training, writing a checkpoint, evaluating),
// checks that its plugin dies with it and that checkpoints/latest names a
// whole checkpoint, and continues as a user would (train --resume, or the
// same command again when there is no checkpoint yet), killing the
// continuation too at times, until the run ends. Its final checkpoint must
// equal the uninterrupted run's byte for byte, and its metrics.jsonl the
// uninterrupted run's, step for step.
func TestKillAndResume(t *testing.T) {
	reference(t)
	for i := range 30 {
		try(t, classKill, fmt.Sprintf("train run %d", i), func(t *testing.T) {
			run := filepath.Join(dir(t), "run")
			var log []string
			for attempt := 0; ; attempt++ {
				args := trainArgs(run)
				if b, err := os.ReadFile(filepath.Join(run, "checkpoints", "latest")); err == nil {
					if strings.TrimSpace(string(b)) == fmt.Sprintf("step-%08d", refSteps) {
						log = append(log, "the last checkpoint was written before the kill")
						break // killed after its last checkpoint: nothing to resume
					}
					args = []string{"train", "--resume", run}
				}
				p := start(t, tmp, nil, 120*time.Second, args...)
				if attempt >= 3 || attempt > 0 && coin() {
					r := p.wait()
					ok(t, r)
					if !strings.Contains(r.stdout, fmt.Sprintf("done: step %d", refSteps)) {
						t.Fatalf("did not finish: %v", r)
					}
					log = append(log, "ran to the end")
					break
				}
				// A moment in the part of the run still to go.
				left := refTime
				if ts, err := os.ReadFile(filepath.Join(run, "checkpoints", "latest")); err == nil {
					var step int
					fmt.Sscanf(string(ts), "step-%d", &step)
					left = refTime * time.Duration(refSteps-step) / refSteps
				}
				at := random(0, left)
				time.Sleep(at)
				plugins := children(p.pid())
				syscall.Kill(p.pid(), syscall.SIGKILL)
				r := p.wait()
				if r.signal != syscall.SIGKILL { // it ended first
					ok(t, r)
					log = append(log, fmt.Sprintf("ended before the kill at %v", at.Round(time.Millisecond)))
					killStats.Lock()
					killStats.afterEnd++
					killStats.Unlock()
					break
				}
				where := "training"
				partial, _ := filepath.Glob(filepath.Join(run, "checkpoints", ".step-*.partial"))
				switch {
				case !strings.Contains(r.stdout, "step "):
					where = "before the first step"
				case len(partial) > 0:
					where = "writing " + strings.TrimSuffix(strings.TrimPrefix(filepath.Base(partial[0]), "."), ".partial")
				}
				killStats.Lock()
				killStats.kills++
				if where == "before the first step" {
					killStats.beforeTraining++
				} else if len(partial) > 0 {
					killStats.midCheckpoint++
				}
				killStats.Unlock()
				log = append(log, fmt.Sprintf("killed at %v (%s)", at.Round(time.Millisecond), where))
				pluginsDie(t, plugins)
				latestWhole(t, run)
			}
			sameAsReference(t, run)
			t.Logf("%s", strings.Join(log, "; "))
		})
	}
	killStats.Lock()
	t.Logf("%d kills: %d before the first step, %d while a checkpoint was being written; %d runs ended before their kill",
		killStats.kills, killStats.beforeTraining, killStats.midCheckpoint, killStats.afterEnd)
	killStats.Unlock()
}

// TestKillPrepare kills prepare with SIGKILL at a random moment: the
// dataset directory is absent or whole, and the same command then gives
// the same dataset as a prepare never killed.
func TestKillPrepare(t *testing.T) {
	fa := bigFASTA(t)
	want, prepTime := prepared(t)
	for i := range 8 {
		try(t, classKill, fmt.Sprintf("prepare %d", i), func(t *testing.T) {
			d := dir(t)
			out := filepath.Join(d, "ds")
			p := start(t, d, nil, 60*time.Second, "prepare", "--modality", "dna", "--data", fa, "-o", out)
			at := random(0, prepTime)
			time.Sleep(at)
			plugins := children(p.pid())
			syscall.Kill(p.pid(), syscall.SIGKILL)
			p.wait()
			pluginsDie(t, plugins)
			if _, err := os.Stat(out); err == nil {
				sameDataset(t, want, out)
			}
			r := mk(t, d, "prepare", "--modality", "dna", "--data", fa, "-o", out)
			ok(t, r)
			sameDataset(t, want, out)
			ents, _ := os.ReadDir(d)
			if len(ents) != 1 {
				t.Errorf("beside the dataset: %v", ents)
			}
			t.Logf("killed at %v", at.Round(time.Millisecond))
		})
	}
}

// sameDataset fails the case unless the two datasets hold the same files.
func sameDataset(t *testing.T, want, got string) {
	t.Helper()
	for _, f := range []string{"dataset.json", "train.tokens", "train.docs", "valid.tokens", "valid.docs"} {
		a, err1 := os.ReadFile(filepath.Join(want, f))
		b, err2 := os.ReadFile(filepath.Join(got, f))
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs from a prepare never killed (%v %v)", f, err1, err2)
		}
	}
}

// pluginsDie fails the case if a plugin outlives its host by 3 s.
func pluginsDie(t *testing.T, pids []int) {
	t.Helper()
	for _, pid := range pids {
		if !waitFor(3*time.Second, func() bool { _, st, ok := procStat(pid); return !ok || st == "Z" }) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Errorf("plugin %d outlived its host by 3 s", pid)
		}
	}
}
