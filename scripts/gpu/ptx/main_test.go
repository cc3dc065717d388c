package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mambakit/mambakit/framework/cuda"
)

// TestRunCompiles compiles the real scan's N = 16 form to a file and
// checks the kernels' entries are in it. Without NVRTC it skips, unless
// $MAMBAKIT_REQUIRE_NVRTC=1 (CI installs it).
func TestRunCompiles(t *testing.T) {
	if _, _, err := cuda.NVRTCInfo(); err != nil {
		if os.Getenv("MAMBAKIT_REQUIRE_NVRTC") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	out := filepath.Join(t.TempDir(), "scan.ptx")
	var stderr bytes.Buffer
	if err := run([]string{"-o", out, "scan_real.cu", "SCAN_N=16", "B_PC=0", "C_PC=0"}, &bytes.Buffer{}, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	ptx, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{".entry scan_bwd(", ".entry scan_fwd_seq(", ".target sm_90"} {
		if !bytes.Contains(ptx, []byte(k)) {
			t.Errorf("the PTX has no %q", k)
		}
	}
}

// TestRunUsage: bad command lines are usage errors (exit status 2) that
// say what is wrong, before any compiling.
func TestRunUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "name a kernel file"},
		{[]string{"nosuch.cu"}, "nosuch.cu"},
		{[]string{"scan_real.cu", "SCAN_N"}, `define "SCAN_N": want NAME=VALUE`},
		{[]string{"scan_real.cu", "=16"}, "want NAME=VALUE"},
		{[]string{"-bogus", "scan_real.cu"}, "bogus"},
	} {
		var stderr bytes.Buffer
		err := run(c.args, &bytes.Buffer{}, &stderr)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("run(%q) = %v, want a usage error saying %q", c.args, err, c.want)
		}
	}
}
