package session

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mambakit/mambakit/framework/host"
	"github.com/mambakit/mambakit/framework/train"
	"github.com/mambakit/mambakit/plugins/audio"
	"github.com/mambakit/mambakit/plugins/dna"
	"github.com/mambakit/mambakit/plugins/text"
	"github.com/mambakit/mambakit/sdk"
)

// pluginArg makes the test binary serve the built-in dna plugin, as
// "mambakit __plugin dna" does.
const pluginArg = "__plugin"

// builtins are the modalities this test binary serves.
var builtins = map[string]func() sdk.Modality{"dna": dna.New, "text": text.New, "audio": audio.New}

func TestMain(m *testing.M) {
	if len(os.Args) == 3 && os.Args[1] == pluginArg && builtins[os.Args[2]] != nil {
		sdk.Serve(builtins[os.Args[2]]())
		return
	}
	os.Exit(m.Run())
}

// startBuiltin starts a built-in plugin served by this test binary.
func startBuiltin(t *testing.T, name string) *host.Plugin {
	t.Helper()
	h, err := host.New(host.Config{Builtins: []string{"dna", "text", "audio"}, BuiltinArg: pluginArg})
	if err != nil {
		t.Fatal(err)
	}
	p, err := h.Start(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// startDNA starts the dna plugin served by this test binary.
func startDNA(t *testing.T) *host.Plugin { t.Helper(); return startBuiltin(t, "dna") }

// openDNA opens a session of the dna plugin over a two-record FASTA file
// in a temporary directory, which it returns.
func openDNA(t *testing.T) (string, *Session) {
	t.Helper()
	dir := t.TempDir()
	fa := filepath.Join(dir, "x.fa")
	os.WriteFile(fa, []byte(">a\n"+strings.Repeat("ACGT", 50)+"\n>b\n"+strings.Repeat("GGCA", 50)+"\n"), 0o644)
	p := startDNA(t)
	t.Cleanup(p.Close)
	s, err := Open(context.Background(), p, []string{fa}, nil, filepath.Join(dir, "data"), 1, 0.5, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return dir, s
}

// kill kills the plugin process and waits until it has exited.
func kill(t *testing.T, p *host.Plugin) {
	t.Helper()
	if err := syscall.Kill(p.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !p.Exited(); {
		if time.Now().After(deadline) {
			t.Fatal("the killed plugin did not exit within 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSampleDecodeRestartsCrashedPlugin kills the plugin process and checks
// that the next decode restarts it once and succeeds.
func TestSampleDecodeRestartsCrashedPlugin(t *testing.T) {
	_, s := openDNA(t)
	restarts := 0
	s.Restart = func() (*host.Plugin, error) { restarts++; return startDNA(t), nil }
	kill(t, s.Plugin)
	b, err := s.Decode(context.Background(), []int32{7, 8, 9, 10})
	if err != nil {
		t.Fatalf("decode after a crash: %v", err)
	}
	if restarts != 1 || !bytes.Contains(b, []byte("ACGT")) {
		t.Fatalf("restarts %d, output %q", restarts, b)
	}
}

// TestRunLogsRestartAndSkippedSamples is the regression test for issue
// 17's R7: the plugin dies under a run's samples; its restart, and every
// sample skipped once it keeps dying, are in the run's output and in
// RUN_DIR/events.log.
func TestRunLogsRestartAndSkippedSamples(t *testing.T) {
	dir, s := openDNA(t)
	s.Restart = func() (*host.Plugin, error) { return startDNA(t), nil }
	runDir := filepath.Join(dir, "run")
	os.MkdirAll(filepath.Join(runDir, "samples"), 0o755)
	var out bytes.Buffer
	r := s.Run(runDir, train.Config{}, &out)
	kill(t, s.Plugin)
	if _, err := r.Sample(context.Background(), []int32{7, 8}, 1, filepath.Join(runDir, "samples"), 1); err != nil {
		t.Fatalf("sample after the first crash: %v", err)
	}
	kill(t, s.Plugin) // it keeps dying: no second restart, the sample is skipped
	if _, err := r.Sample(context.Background(), []int32{7, 8}, 1, filepath.Join(runDir, "samples"), 2); err == nil {
		t.Fatal("sample after the second crash succeeded")
	} else {
		r.Event("step 2: sample skipped: %v", err) // what the training loop does
	}
	log, err := os.ReadFile(filepath.Join(runDir, train.EventsLog))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`plugin "dna" crashed during Decode (signal: killed); restarted the dna plugin (pid `, `step 2: sample skipped: plugin "dna" crashed during Decode (signal: killed)`} {
		if !strings.Contains(out.String(), want) || !strings.Contains(string(log), want) {
			t.Errorf("%q missing from the output or events.log:\n%s---\n%s", want, out.String(), log)
		}
	}
}

// TestMarkov: every order is reported in turn, and the best is the one
// with the fewest bits per unit.
func TestMarkov(t *testing.T) {
	_, s := openDNA(t)
	var got []int
	bits := map[int]float64{}
	best, b, err := s.Markov(context.Background(), []int{0, 2, 1}, func(k int, e train.Eval) error {
		got = append(got, k)
		bits[k] = e.BitsPerUnit
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0] != 0 || got[1] != 2 || got[2] != 1 {
		t.Errorf("reported orders %v, want [0 2 1]", got)
	}
	for k, v := range bits {
		if v < b {
			t.Errorf("order %d has %.4f bits, fewer than the best (order %d, %.4f)", k, v, best, b)
		}
	}
	if bits[best] != b {
		t.Errorf("best order %d: %.4f bits, reported %.4f", best, b, bits[best])
	}
}
