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
	"github.com/mambakit/mambakit/plugins/dna"
	"github.com/mambakit/mambakit/sdk"
)

// pluginArg makes the test binary serve the built-in dna plugin, as
// "mambakit __plugin dna" does.
const pluginArg = "__plugin"

func TestMain(m *testing.M) {
	if len(os.Args) == 3 && os.Args[1] == pluginArg && os.Args[2] == "dna" {
		sdk.Serve(dna.New())
		return
	}
	os.Exit(m.Run())
}

// startDNA starts the dna plugin served by this test binary.
func startDNA(t *testing.T) *host.Plugin {
	t.Helper()
	h, err := host.New(host.Config{Builtins: []string{"dna"}, BuiltinArg: pluginArg})
	if err != nil {
		t.Fatal(err)
	}
	p, err := h.Start(context.Background(), "dna")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSampleDecodeRestartsCrashedPlugin kills the plugin process and checks
// that the next decode restarts it once and succeeds.
func TestSampleDecodeRestartsCrashedPlugin(t *testing.T) {
	dir := t.TempDir()
	fa := filepath.Join(dir, "x.fa")
	os.WriteFile(fa, []byte(">a\n"+strings.Repeat("ACGT", 50)+"\n>b\n"+strings.Repeat("GGCA", 50)+"\n"), 0o644)
	p := startDNA(t)
	defer p.Close()
	s, err := Open(context.Background(), p, []string{fa}, nil, filepath.Join(dir, "data"), 1, 0.5, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	restarts := 0
	s.Restart = func() (*host.Plugin, error) { restarts++; return startDNA(t), nil }
	if err := syscall.Kill(p.Pid(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !p.Exited(); {
		if time.Now().After(deadline) {
			t.Fatal("the killed plugin did not exit within 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	b, err := s.Decode(context.Background(), []int32{7, 8, 9, 10})
	if err != nil {
		t.Fatalf("decode after a crash: %v", err)
	}
	if restarts != 1 || !bytes.Contains(b, []byte("ACGT")) {
		t.Fatalf("restarts %d, output %q", restarts, b)
	}
}
