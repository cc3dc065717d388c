package cudakernels

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/mambakit/mambakit/framework/cuda"
)

// TestCompileAll compiles every kernel file and the scan's variants for
// the device and records each kernel's registers, local memory (spills)
// and shared memory ($MAMBAKIT_CUDA_RESOURCES, tab-separated).
func TestCompileAll(t *testing.T) {
	d := openOrSkip(t)
	path, ver, err := cuda.NVRTCInfo()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("NVRTC %s from %s", ver, path)
	type mod struct {
		file  string
		defs  []string
		funcs []string
	}
	mods := []mod{
		{"util.cu", nil, []string{"fill_uniform", "sum_rows", "exp_rate"}},
		{"conv.cu", nil, []string{"conv_fwd", "conv_bwd_x", "conv_bwd_w", "conv_bwd_wsum"}},
		{"norm.cu", nil, []string{"rmsnorm_fwd", "rmsnorm_bwd"}},
		{"elementwise.cu", nil, []string{"silu_fwd", "silu_bwd", "gate_fwd", "gate_bwd", "softplus_fwd", "softplus_bwd"}},
		{"loss.cu", nil, []string{"xent_fwd_bwd", "xent_sum"}},
		{"adamw.cu", nil, []string{"adamw_step"}},
	}
	fwd := []string{"scan_fwd_local", "scan_fwd_carry", "scan_fwd_out"}
	for _, v := range []Scan{{N: 16}, {N: 16, BPerChannel: true, CPerChannel: true}, {N: 32}, {N: 5}, {N: 64}} {
		mods = append(mods, mod{"scan.cu", v.defines(), append(fwd, "scan_bwd_local", "scan_bwd_carry", "scan_bwd", "scan_bwd_bc")})
	}
	mods = append(mods, mod{"scan.cu", (&Scan{N: 16, AImag: 1}).defines(), append(fwd, "scan_bwd_local", "scan_bwd_carry", "scan_bwd", "scan_bwd_bc")})
	var rows []string
	for _, m := range mods {
		mo, err := d.module(m.file, m.defs...)
		if err != nil {
			t.Errorf("%s %v: %v", m.file, m.defs, err)
			continue
		}
		for _, fn := range m.funcs {
			f, err := mo.Function(fn)
			if err != nil {
				t.Errorf("%s: %v", fn, err)
				continue
			}
			row := fmt.Sprintf("%s\t%s\t%s\t%d\t%d\t%d\t%v", m.file, strings.Join(m.defs, " "), fn, f.Regs, f.LocalBytes, f.StaticShared, mo.Compile.Round(1e6))
			rows = append(rows, row)
			t.Log(row)
		}
		if mo.Log != "" && testing.Verbose() {
			t.Logf("%s %v log:\n%s", m.file, m.defs, mo.Log)
		}
	}
	if p := os.Getenv("MAMBAKIT_CUDA_RESOURCES"); p != "" {
		os.WriteFile(p, []byte(strings.Join(rows, "\n")+"\n"), 0o644)
	}
}
