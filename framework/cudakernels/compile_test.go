package cudakernels

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/mambakit/mambakit/framework/cuda"
)

// TestCompileAll compiles every kernel file and the variants of the scan
// and the step for the device and records each kernel's registers, local
// memory (spills) and shared memory ($MAMBAKIT_CUDA_RESOURCES,
// tab-separated).
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
		{"conv.cu", nil, []string{"conv_fwd4", "conv_fwd16", "conv_bwd4", "conv_bwd16", "conv_bwd_wsum"}},
		{"norm.cu", nil, []string{"rmsnorm_fwd", "rmsnorm_bwd"}},
		{"elementwise.cu", nil, []string{"silu_fwd", "silu_bwd", "gate_fwd", "gate_bwd", "softplus_fwd", "softplus_bwd"}},
		{"loss.cu", nil, []string{"xent_fwd_bwd", "xent_sum"}},
		{"adamw.cu", nil, []string{"adamw_step"}},
	}
	for _, v := range []Scan{{N: 16}, {N: 16, BPerChannel: true, CPerChannel: true}, {N: 32}, {N: 5}, {N: 64},
		{N: 16, AImag: 1}, {N: 16, AImag: 1, BPerChannel: true, CPerChannel: true}, {N: 64, AImag: 1},
		{N: 16, U16: 1, Delta16: 1, Z16: 1}, {N: 64, U16: 1, Delta16: 1, Z16: 1}, {N: 16, AImag: 1, U16: 1, Delta16: 1, Z16: 1}} {
		names := scanKernels
		if v.AImag == 0 {
			names = append(names[:len(names):len(names)], scanSeqKernels...)
		}
		mods = append(mods, mod{v.file(), v.defines(), names})
	}
	steps := []StepVariant{{}}
	if d.Major >= 9 { // the prefetching forms use sm_90 instructions
		steps = append(steps, StepVariant{Prefetch: true}, StepVariant{MaxRows: 1, Prefetch: true}, StepVariant{MaxRows: 1, Prefetch: true, Early: true, L2: true})
	}
	for _, v := range steps {
		names := []string{"step_embed", "step_gemv", "step_scan", "step_scan_rows", "step_rmsnorm_rows", "step_conv_rows", "step_argmax_rows"}
		if v.Early {
			names = append(names, "step_gemv_e", "step_gemv_e16", "step_scan_e")
		}
		mods = append(mods, mod{"step.cu", v.defines(), names})
	}
	mods = append(mods, mod{"model.cu", nil, []string{"embed_fwd", "embed_bwd", "add_mul", "neg_exp", "sumsq_part", "scale_f", "copy_cols"}})
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
