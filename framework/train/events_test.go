package train

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
