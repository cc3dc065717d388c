package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mambakit/mambakit/framework/backbone"
)

// TestExportCommand: export writes a bf16 model directory and says so;
// the same again exits 1 with one line (it never writes over a
// directory); a missing -o or an unknown --dtype exits 2.
func TestExportCommand(t *testing.T) {
	m, err := backbone.New(backbone.NewConfig(64, 32, 2), 3)
	if err != nil {
		t.Fatal(err)
	}
	src, out := filepath.Join(t.TempDir(), "src"), filepath.Join(t.TempDir(), "bf16")
	if err := m.Save(src); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"export", "--checkpoint", src, "-o", out, "--dtype", "bf16"}, 0, "wrote " + out + " (bfloat16 weights) from " + src},
		{[]string{"export", "--checkpoint", src, "-o", out, "--dtype", "bf16"}, 1, "is not empty"},
		{[]string{"export", "--checkpoint", src}, 2, "missing -o OUT"},
		{[]string{"export", "--checkpoint", src, "-o", out + "2", "--dtype", "fp16"}, 2, `--dtype "fp16": want fp32 or bf16`},
	} {
		var stdout, stderr bytes.Buffer
		code := mainExit(c.args, &stdout, &stderr)
		msg := stdout.String() + stderr.String()
		if code != c.code || !strings.Contains(msg, c.want) || (code != 0 && strings.Count(stderr.String(), "\n") != 1) {
			t.Errorf("%q: exit %d, output %q; want exit %d and %q (errors on one line)", c.args, code, msg, c.code, c.want)
		}
	}
	got, err := backbone.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if got.Config.DType != backbone.BFloat16 {
		t.Errorf("the exported directory's dtype %q, want %q", got.Config.DType, backbone.BFloat16)
	}
}
