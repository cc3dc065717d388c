package train

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/cuda"
)

func TestUnknownDevice(t *testing.T) {
	r := testRun(t, t.TempDir(), testConfig(2))
	r.Device = "tpu"
	if _, err := Start(context.Background(), r); err == nil || !strings.Contains(err.Error(), "want cpu or cuda") {
		t.Fatalf("device tpu: got %v", err)
	}
}

// lossCurve reads the training and validation losses of metrics.jsonl.
func lossCurve(t *testing.T, dir string) (train, valid []float64) {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m Metric
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		train = append(train, m.Loss)
		if m.ValLoss != nil {
			valid = append(valid, *m.ValLoss)
		}
	}
	return train, valid
}

// TestCUDARunTracksCPU trains the same run on the CPU and with --device
// cuda (on a machine with a GPU; skipped elsewhere), resumes the GPU run
// from its checkpoint (written from downloaded parameters and moments) on
// the GPU, and checks the loss curves, validation losses and final
// checkpoints agree.
func TestCUDARunTracksCPU(t *testing.T) {
	d, err := cuda.Open()
	if errors.Is(err, cuda.ErrNoDriver) {
		t.Skip(err.Error())
	}
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	c := testConfig(12)
	c.DModel, c.DState = 32, 8
	cpuDir, gpuDir := runsTrackCPU(t, c, "")
	cc, err := LatestCheckpoint(cpuDir)
	if err != nil {
		t.Fatal(err)
	}
	gc, err := LatestCheckpoint(gpuDir)
	if err != nil {
		t.Fatal(err)
	}
	mc, tsc, _, err := loadCheckpoint(cc)
	if err != nil {
		t.Fatal(err)
	}
	mg, tsg, _, err := loadCheckpoint(gc)
	if err != nil {
		t.Fatal(err)
	}
	if tsc.Step != tsg.Step || tsc.OptSteps != tsg.OptSteps {
		t.Errorf("checkpoint steps cpu %d/%d, gpu %d/%d", tsc.Step, tsc.OptSteps, tsg.Step, tsg.OptSteps)
	}
	var num, den float64
	for i, v := range mc.Params.Data {
		e := float64(mg.Params.Data[i]) - float64(v)
		num += e * e
		den += float64(v) * float64(v)
	}
	rel := math.Sqrt(num / den)
	t.Logf("final parameters: relative L2 difference %.3g", rel)
	if !(rel <= 1e-3) {
		t.Errorf("final parameters differ: relative L2 %.3g", rel)
	}
}

// runsTrackCPU trains c (12 steps) on the CPU, and on the GPU to step 6,
// checkpointed, then resumed on the GPU to 12, and checks that the two
// loss curves (training and validation) agree to 1e-3 relative. It
// returns the two run directories.
func runsTrackCPU(t *testing.T, c Config, label string) (cpuDir, gpuDir string) {
	t.Helper()
	ctx := context.Background()
	cpuDir, gpuDir = t.TempDir(), t.TempDir()
	if _, err := Start(ctx, testRun(t, cpuDir, c)); err != nil {
		t.Fatal(err)
	}
	half := c
	half.Steps = 6
	rg := testRun(t, gpuDir, half)
	rg.Device = CUDA
	if _, err := Start(ctx, rg); err != nil {
		t.Fatal(err)
	}
	rg = testRun(t, gpuDir, Config{Steps: 12})
	rg.Device = CUDA
	if _, err := Resume(ctx, rg); err != nil {
		t.Fatal(err)
	}
	ct, cv := lossCurve(t, cpuDir)
	gt, gv := lossCurve(t, gpuDir)
	if len(ct) != 12 || len(gt) != 12 || len(cv) != len(gv) {
		t.Fatalf("%ssteps: cpu %d (%d evaluations), gpu %d (%d)", label, len(ct), len(cv), len(gt), len(gv))
	}
	worst := 0.0
	for i := range ct {
		worst = math.Max(worst, math.Abs(gt[i]-ct[i])/ct[i])
	}
	for i := range cv {
		worst = math.Max(worst, math.Abs(gv[i]-cv[i])/cv[i])
	}
	t.Logf("%straining loss cpu %.5f → %.5f, gpu %.5f → %.5f; largest relative difference (train and validation) %.3g", label, ct[0], ct[11], gt[0], gt[11], worst)
	if !(worst <= 1e-3) {
		t.Errorf("%sGPU run departs from the CPU run: relative difference %.3g", label, worst)
	}
	return cpuDir, gpuDir
}

// TestPlacementPrecision: the CPU model takes the placement's precision
// and recompute; tf32 (by name or by --tf32) is refused on the CPU, and
// --tf32 with another precision anywhere, before any device is touched.
func TestPlacementPrecision(t *testing.T) {
	m, err := backbone.New(backbone.NewConfig(16, 8, 1), 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewModel(m, nil, Placement{Precision: backbone.BF16}); err != nil || m.Precision != backbone.BF16 {
		t.Fatalf("CPU with bf16: %v, model precision %q", err, m.Precision)
	}
	if _, err := NewModel(m, nil, Placement{}); err != nil || m.Precision != backbone.FP32 || m.Recompute() {
		t.Fatalf("CPU by default: %v, model precision %q, recompute %v", err, m.Precision, m.Recompute())
	}
	if _, err := NewModel(m, nil, Placement{Recompute: true}); err != nil || !m.Recompute() {
		t.Fatalf("CPU with recompute: %v, recompute %v", err, m.Recompute())
	}
	for name, tt := range map[string]struct {
		p    Placement
		want string
	}{
		"cpu tf32":         {Placement{Precision: backbone.TF32}, "runs on a GPU only"},
		"cpu --tf32":       {Placement{TF32: true}, "runs on a GPU only"},
		"cuda --tf32 bf16": {Placement{Device: CUDA, TF32: true, Precision: backbone.BF16}, "choose one"},
		"cpu --tf32 bf16":  {Placement{TF32: true, Precision: backbone.BF16}, "choose one"},
	} {
		if err := tt.p.Check(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Check: %v, want an error containing %q", name, err, tt.want)
		}
		if _, err := NewModel(m, nil, tt.p); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error containing %q", name, err, tt.want)
		}
	}
	for _, tt := range []struct {
		p    Placement
		want backbone.Precision
	}{
		{Placement{Device: CUDA}, backbone.FP32},
		{Placement{Device: CUDA, TF32: true}, backbone.TF32},
		{Placement{Device: CUDA, TF32: true, Precision: backbone.TF32}, backbone.TF32},
		{Placement{Device: CUDA, Precision: backbone.BF16}, backbone.BF16},
	} {
		if got, err := tt.p.Products(); err != nil || got != tt.want {
			t.Errorf("%+v: %q, %v; want %q", tt.p, got, err, tt.want)
		}
	}
}
