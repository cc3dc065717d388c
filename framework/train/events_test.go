package train

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSkippedSamplesAreLogged: every evaluation whose sample fails (a
// plugin that keeps dying) is a line in the run's output and in
// RUN_DIR/events.log, and the run goes on (issue 17, R7).
func TestSkippedSamplesAreLogged(t *testing.T) {
	dir := t.TempDir()
	r := testRun(t, dir, testConfig(6))
	r.Config.SampleTokens = 4
	var out bytes.Buffer
	r.Out = &out
	r.Sample = func(context.Context, []int32, int, string, int) (string, error) {
		return "", errors.New(`plugin "synthetic" crashed during Decode (signal: killed)`)
	}
	if res, err := Start(context.Background(), r); err != nil || res.Step != 6 {
		t.Fatalf("run: %+v, %v", res, err)
	}
	log, err := os.ReadFile(filepath.Join(dir, EventsLog))
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []string{"3", "6"} {
		want := "step " + step + `: sample skipped: plugin "synthetic" crashed during Decode (signal: killed)`
		if !strings.Contains(out.String(), want+"\n") || !strings.Contains(string(log), " "+want+"\n") {
			t.Errorf("%q missing from the output or events.log:\n%s---\n%s", want, out.String(), log)
		}
	}
}

// TestInterruptDuringStuckSample: Ctrl-C while the plugin hangs in an
// evaluation's sample (stopped, or deadlocked) ends the run within a
// second or two, with a checkpoint and the skipped sample logged; the
// sample used to wait on the plugin for as long as it hung.
func TestInterruptDuringStuckSample(t *testing.T) {
	dir := t.TempDir()
	r := testRun(t, dir, testConfig(9))
	r.Config.SampleTokens = 4
	var out bytes.Buffer
	r.Out = &out
	ctx, cancel := context.WithCancel(context.Background())
	r.Sample = func(sctx context.Context, _ []int32, _ int, _ string, step int) (string, error) {
		cancel() // Ctrl-C, while the plugin does not answer
		<-sctx.Done()
		return "", sctx.Err()
	}
	type ended struct {
		res Result
		err error
	}
	done := make(chan ended, 1)
	go func() {
		res, err := Start(ctx, r)
		done <- ended{res, err}
	}()
	select {
	case e := <-done:
		if e.err != nil || !e.res.Interrupted || e.res.Step != 3 {
			t.Fatalf("want an interrupt at step 3, got %+v, %v", e.res, e.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the run still waits on the stuck sample 10 s after Ctrl-C")
	}
	if !strings.Contains(out.String(), "step 3: sample skipped: interrupted") {
		t.Errorf("the skipped sample is not logged:\n%s", out.String())
	}
}
