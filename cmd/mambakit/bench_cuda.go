package main

import (
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/cuda"
	"github.com/mambakit/mambakit/framework/cudakernels"
	"github.com/mambakit/mambakit/framework/cudamodel"
)

// scanDeviceCUDA reports whether the bench scan arguments ask for the GPU
// (--device cuda or --device=cuda).
func scanDeviceCUDA(args []string) bool {
	for i, a := range args {
		a = strings.TrimLeft(a, "-")
		if a == "device=cuda" || (a == "device" && i+1 < len(args) && args[i+1] == "cuda") {
			return true
		}
	}
	return false
}

// The anchor of issue 7: state-spaces/mamba's fused CUDA selective scan at
// B 8, D 1024, N 16, fp32, in ms, by L.
var scanAnchor = map[int][2]float64{2048: {0.56, 1.45}, 8192: {2.24, 5.55}, 32768: {9.06, 22.2}, 65536: {18.0, 45.6}}

// benchScanCUDA times the GPU scan (forward and backward) with device
// events, after warm-up, as the median of --reps runs, and sets each time
// against two floors measured on the card: the bytes the pass must move
// (inputs read once, outputs written once) at the device-to-device copy
// bandwidth, and one exp per (b, l, d, n) element at the exp2 rate.
func benchScanCUDA(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench scan --device cuda", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.String("device", "cuda", "cuda: this GPU benchmark")
	B := fs.Int("batch", 8, "batch size B")
	lens := fs.String("seq-len", "2048,8192,32768,65536", "comma list of sequence lengths L")
	D := fs.Int("d-inner", 1024, "channels D (d_inner)")
	N := fs.Int("d-state", 16, "state size N")
	reps := fs.Int("reps", 20, "timed runs of each pass (median reported)")
	warm := fs.Int("warmup", 3, "untimed runs first")
	gemm := fs.Bool("gemm", true, "also time cuBLAS sgemm 8192³ in fp32 and TF32")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := positiveFlags(fs, "batch", "d-inner", "d-state", "reps"); err != nil {
		return err
	}
	Ls, err := positiveList("seq-len", *lens)
	if err != nil {
		return err
	}
	cd, err := cuda.Open()
	if err != nil {
		return err
	}
	defer cd.Close()
	d := cudakernels.New(cd)
	fmt.Fprintf(stdout, "device: %s\n", d)
	if p, v, err := cuda.NVRTCInfo(); err == nil {
		fmt.Fprintf(stdout, "nvrtc %s: %s\n", v, p)
	}
	timer, err := newCudaTimer(cd, *warm, *reps)
	if err != nil {
		return err
	}
	// Ceilings.
	bw, err := copyBandwidth(d, timer)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "copy bandwidth (cuMemcpyDtoD of 2 GiB, bytes read + written): %.0f GB/s\n", bw/1e9)
	expRate, err := expRate(d, timer)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "exp2f rate (8 independent chains a thread, %d SMs): %.3g exp/s (%.0f a clock per SM at %d MHz)\n",
		d.SMs, expRate, expRate/float64(d.SMs)/(float64(d.ClockKHz)*1e3), d.ClockKHz/1000)
	if *gemm {
		for _, tf32 := range []bool{false, true} {
			tf, err := gemmRate(d, timer, 8192, tf32)
			if err != nil {
				return err
			}
			mode := "fp32"
			if tf32 {
				mode = "tf32"
			}
			fmt.Fprintf(stdout, "cublas sgemm 8192³ %s: %.1f TFLOP/s\n", mode, tf/1e12)
		}
	}
	fmt.Fprintf(stdout, "\nscan B=%d D=%d N=%d, float32, median of %d runs after %d warm-up (device events)\n", *B, *D, *N, *reps, *warm)
	fmt.Fprintf(stdout, "%-6s %-4s %9s %8s %10s %10s %10s %10s %9s\n", "L", "pass", "ms", "GB/s", "mem floor", "exp floor", "anchor ms", "anchor/us", "ms/floor")
	for _, L := range Ls {
		if err := benchScanOneL(d, timer, stdout, *B, L, *D, *N, bw, expRate); err != nil {
			return err
		}
	}
	return nil
}

// cudaTimer times a function of device work with events.
type cudaTimer struct {
	d          *cuda.Device
	start, end *cuda.Event
	warm, reps int
}

func newCudaTimer(d *cuda.Device, warm, reps int) (*cudaTimer, error) {
	s, err := d.NewEvent()
	if err != nil {
		return nil, err
	}
	e, err := d.NewEvent()
	if err != nil {
		return nil, err
	}
	return &cudaTimer{d: d, start: s, end: e, warm: warm, reps: reps}, nil
}

// median returns the median milliseconds of f over the timer's runs.
func (c *cudaTimer) median(f func() error) (float64, error) {
	for i := 0; i < c.warm; i++ {
		if err := f(); err != nil {
			return 0, err
		}
	}
	if err := c.d.Synchronize(); err != nil {
		return 0, err
	}
	ts := make([]float64, 0, c.reps)
	for i := 0; i < c.reps; i++ {
		if err := c.start.Record(nil); err != nil {
			return 0, err
		}
		if err := f(); err != nil {
			return 0, err
		}
		if err := c.end.Record(nil); err != nil {
			return 0, err
		}
		if err := c.end.Synchronize(); err != nil {
			return 0, err
		}
		ms, err := cuda.ElapsedMs(c.start, c.end)
		if err != nil {
			return 0, err
		}
		ts = append(ts, float64(ms))
	}
	slices.Sort(ts)
	return ts[len(ts)/2], nil
}

func copyBandwidth(d *cudakernels.Device, c *cudaTimer) (float64, error) {
	const n = 2 << 30
	src, err := d.Alloc(n)
	if err != nil {
		return 0, err
	}
	defer src.Free()
	dst, err := d.Alloc(n)
	if err != nil {
		return 0, err
	}
	defer dst.Free()
	if err := d.FillUniform(src.Ptr(), n/4, 1, -1, 1); err != nil {
		return 0, err
	}
	ms, err := c.median(func() error { return d.CopyDtoD(dst.Ptr(), src.Ptr(), n) })
	if err != nil {
		return 0, err
	}
	return 2 * n / (ms * 1e-3), nil
}

func expRate(d *cudakernels.Device, c *cudaTimer) (float64, error) {
	f, err := d.Kernel(cudakernels.Sources, "util.cu", "exp_rate")
	if err != nil {
		return 0, err
	}
	blocks, threads, iters := d.SMs*8, 256, 4096
	out, err := d.AllocF32(blocks * threads)
	if err != nil {
		return 0, err
	}
	defer out.Free()
	ms, err := c.median(func() error {
		return f.Launch(cuda.Dim3{X: blocks}, cuda.Dim3{X: threads}, 0, nil, out, iters)
	})
	if err != nil {
		return 0, err
	}
	return float64(blocks*threads) * float64(iters) * 8 / (ms * 1e-3), nil
}

func gemmRate(d *cudakernels.Device, c *cudaTimer, n int, tf32 bool) (float64, error) {
	bl, err := d.BLAS()
	if err != nil {
		return 0, err
	}
	if err := bl.SetTF32(tf32); err != nil {
		return 0, err
	}
	defer bl.SetTF32(false)
	var bufs [3]*cuda.Buffer
	for i := range bufs {
		if bufs[i], err = d.AllocF32(n * n); err != nil {
			return 0, err
		}
		defer bufs[i].Free()
		if err := d.FillUniform(bufs[i].Ptr(), int64(n*n), uint32(i+7), -1, 1); err != nil {
			return 0, err
		}
	}
	ms, err := c.median(func() error {
		return bl.MatMul(false, false, n, n, n, bufs[0].Ptr(), bufs[1].Ptr(), 0, bufs[2].Ptr())
	})
	if err != nil {
		return 0, err
	}
	return 2 * float64(n) * float64(n) * float64(n) / (ms * 1e-3), nil
}

func benchScanOneL(d *cudakernels.Device, c *cudaTimer, w io.Writer, B, L, D, N int, bw, expRate float64) error {
	bld, bln := int64(B)*int64(L)*int64(D), int64(B)*int64(L)*int64(N)
	var bufs []*cuda.Buffer
	defer func() {
		for _, b := range bufs {
			b.Free()
		}
	}()
	seed := uint32(1)
	alloc := func(n int64, lo, hi float32) (cuda.DevPtr, error) {
		b, err := d.Alloc(int(4 * n))
		if err != nil {
			return 0, err
		}
		bufs = append(bufs, b)
		seed++
		return b.Ptr(), d.FillUniform(b.Ptr(), n, seed, lo, hi)
	}
	s := &cudakernels.Scan{B: B, L: L, D: D, N: N}
	g := &cudakernels.ScanGrads{}
	type spec struct {
		p      *cuda.DevPtr
		n      int64
		lo, hi float32
	}
	specs := []spec{
		{&s.U, bld, -1, 1}, {&s.Delta, bld, -6, 0}, {&s.DeltaBias, int64(D), -1, 0}, {&s.A, int64(D * N), -4, -0.1},
		{&s.Bm, bln, -1, 1}, {&s.Cm, bln, -1, 1}, {&s.Dskip, int64(D), 0.5, 1.5}, {&s.Z, bld, -2, 2},
		{&s.Y, bld, 0, 0}, {&s.HT, int64(B * D * N), 0, 0}, {&s.Saved, int64(cudakernels.ScanSavedLen(B, L, D, N, false)), 0, 0},
		{&g.DY, bld, -1, 1}, {&g.DU, bld, 0, 0}, {&g.DDelta, bld, 0, 0}, {&g.DZ, bld, 0, 0},
		{&g.DDeltaBias, int64(D), 0, 0}, {&g.DA, int64(D * N), 0, 0}, {&g.DBm, bln, 0, 0}, {&g.DCm, bln, 0, 0},
		{&g.DDskip, int64(D), 0, 0}, {&g.DH0, int64(B * D * N), 0, 0},
	}
	for _, sp := range specs {
		p, err := alloc(sp.n, sp.lo, sp.hi)
		if err != nil {
			return fmt.Errorf("L %d: %w", L, err)
		}
		*sp.p = p
	}
	fwd, err := c.median(func() error { return d.ScanForward(s) })
	if err != nil {
		return err
	}
	bwd, err := c.median(func() error { return d.ScanBackward(s, g) })
	if err != nil {
		return err
	}
	// Bytes a pass must move: forward reads U, Δ, Z, B, C and writes Y;
	// backward reads U, Δ, Z, DY, B, C and writes DU, DΔ, DZ, DB, DC.
	fb := float64(4 * (4*bld + 2*bln))
	bb := float64(4 * (7*bld + 4*bln))
	ex := float64(bld) * float64(N) / expRate * 1e3
	an := scanAnchor[L]
	row := func(pass string, ms, bytes, anchor float64) {
		mem := bytes / bw * 1e3
		fl := max(mem, ex)
		a, r := "-", "-"
		if anchor > 0 {
			a, r = fmt.Sprintf("%.3g", anchor), fmt.Sprintf("%.2fx", anchor/ms)
		}
		fmt.Fprintf(w, "%-6d %-4s %9.3f %8.0f %10.3f %10.3f %10s %10s %9.2f\n", L, pass, ms, bytes/(ms*1e-3)/1e9, mem, ex, a, r, ms/fl)
	}
	row("fwd", fwd, fb, an[0])
	row("bwd", bwd, bb, an[1])
	return nil
}

// trainAnchors are the reference throughputs of a training step of
// the mamba-130m shape (d_model 768, 24 layers, vocab 50280, d_state 16)
// at batch 8 × 2048 tokens on the same H200, in tokens/s.
var trainAnchors = []struct {
	name string
	tps  float64
}{
	{"state-spaces/mamba (fused CUDA kernels), fp32", 41200},
	{"state-spaces/mamba (fused CUDA kernels), TF32", 89200},
	{"Hugging Face transformers, pure-PyTorch path", 101},
}

// benchTrainCUDA times full training steps (forward, backward, gradient
// clipping, AdamW) of a fresh model on random tokens on the GPU
// (framework/cudamodel). Times are wall-clock per step, the device
// synchronized at the end of each; the phases are split with device events.
func benchTrainCUDA(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench train --device cuda", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.String("device", "cuda", "cuda: train on the GPU")
	dModel := fs.Int("d-model", 768, "model width")
	layers := fs.Int("layers", 24, "number of blocks")
	dState := fs.Int("d-state", 16, "SSM state size N")
	vocab := fs.Int("vocab", 50277, "vocabulary size (padded to a multiple of 8)")
	batch := fs.Int("batch", 8, "sequences per step")
	seqLen := fs.Int("seq-len", 2048, "tokens per sequence")
	steps := fs.Int("steps", 10, "timed training steps")
	warm := fs.Int("warmup", 2, "untimed steps first (compile kernels, allocate activations)")
	seed := fs.Uint64("seed", 1, "seed of the model and the tokens")
	tf32 := fs.Bool("tf32", false, "TF32 tensor cores for the projections (cuBLAS)")
	complexA := fs.Bool("complex", false, "complex A, B, C and states (S4D-Lin)")
	var nonSelective []string
	fs.Func("nonselective", "SSM parameters that do not depend on the input (delta,B,C)", func(v string) error {
		nonSelective = strings.Split(v, ",")
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := positiveFlags(fs, "d-model", "layers", "d-state", "vocab", "batch", "seq-len", "steps"); err != nil {
		return err
	}
	d, err := cuda.Open()
	if err != nil {
		return err
	}
	defer d.Close()
	cfg := backbone.NewConfig(*vocab, *dModel, *layers)
	cfg.StateSize = *dState
	cfg.NonSelective, cfg.ComplexA = nonSelective, *complexA
	t0 := time.Now()
	m, err := backbone.New(cfg, *seed)
	if err != nil {
		return err
	}
	g, err := cudamodel.New(d, m)
	if err != nil {
		return err
	}
	defer g.Close()
	if err := g.SetTF32(*tf32); err != nil {
		return err
	}
	mode := "float32"
	if *tf32 {
		mode = "TF32 projections"
	}
	fmt.Fprintf(stdout, "device: %s\n", d)
	fmt.Fprintf(stdout, "model: d_model %d, %d layers, d_state %d, vocab %d (%d parameters); batch %d × %d tokens; %s (init and upload %.1fs)\n",
		*dModel, *layers, *dState, cfg.VocabSize, g.NumParams(), *batch, *seqLen, mode, time.Since(t0).Seconds())
	ac := backbone.AdamWConfig{LR: 1e-3, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1}
	r := rand.New(rand.NewPCG(*seed, 2))
	B, L := *batch, *seqLen
	b := &backbone.Batch{B: B, L: L, Inputs: make([]int32, B*L), Targets: make([]int32, B*L)}
	ev := make([]*cuda.Event, 4)
	for i := range ev {
		if ev[i], err = d.NewEvent(); err != nil {
			return err
		}
	}
	type times struct{ step, fwd, bwd, opt float64 }
	step := func() (float64, times, error) {
		for i := range b.Inputs {
			b.Inputs[i] = int32(r.IntN(*vocab))
			b.Targets[i] = int32(r.IntN(*vocab))
		}
		var tm times
		t0 := time.Now()
		ev[0].Record(nil)
		loss, err := g.Forward(b, nil)
		if err != nil {
			return 0, tm, err
		}
		ev[1].Record(nil)
		if err := g.ZeroGrad(); err != nil {
			return 0, tm, err
		}
		if err := g.Backward(); err != nil {
			return 0, tm, err
		}
		ev[2].Record(nil)
		if _, err := g.ClipGrad(1); err != nil {
			return 0, tm, err
		}
		if err := g.Step(ac, 1e-3); err != nil {
			return 0, tm, err
		}
		ev[3].Record(nil)
		if err := d.Synchronize(); err != nil {
			return 0, tm, err
		}
		tm.step = time.Since(t0).Seconds()
		for i, p := range []*float64{&tm.fwd, &tm.bwd, &tm.opt} {
			ms, err := cuda.ElapsedMs(ev[i], ev[i+1])
			if err != nil {
				return 0, tm, err
			}
			*p = float64(ms) / 1e3
		}
		return loss, tm, nil
	}
	for i := 0; i < *warm; i++ {
		if _, _, err := step(); err != nil {
			return err
		}
	}
	tok := float64(B * L)
	var all []float64
	var sum times
	for i := 1; i <= *steps; i++ {
		loss, tm, err := step()
		if err != nil {
			return err
		}
		all = append(all, tm.step)
		sum.step += tm.step
		sum.fwd += tm.fwd
		sum.bwd += tm.bwd
		sum.opt += tm.opt
		fmt.Fprintf(stdout, "step %d/%d  loss %.4f  %.1f ms (forward %.1f, backward %.1f, clip+AdamW %.1f)  %.0f tokens/s\n",
			i, *steps, loss, 1e3*tm.step, 1e3*tm.fwd, 1e3*tm.bwd, 1e3*tm.opt, tok/tm.step)
	}
	slices.Sort(all)
	med := all[len(all)/2]
	n := float64(*steps)
	free, total, _ := d.MemInfo()
	fmt.Fprintf(stdout, "median step %.1f ms: %.0f tokens/s (mean %.0f); forward %.1f ms, backward %.1f ms, clip+AdamW %.1f ms (means); device memory in use %.1f GiB\n",
		1e3*med, tok/med, tok*n/sum.step, 1e3*sum.fwd/n, 1e3*sum.bwd/n, 1e3*sum.opt/n, float64(total-free)/(1<<30))
	fmt.Fprintf(stdout, "tokens_per_s=%.1f\n", tok/med)
	if *dModel == 768 && *layers == 24 && cfg.VocabSize == 50280 && *dState == 16 && B == 8 && L == 2048 && !*complexA && len(nonSelective) == 0 {
		fmt.Fprintf(stdout, "anchors (mamba-130m shape, batch 8 × 2048, same H200):\n")
		for _, a := range trainAnchors {
			fmt.Fprintf(stdout, "  %-50s %9.0f tokens/s  (this run: %.2f×)\n", a.name, a.tps, tok/med/a.tps)
		}
	}
	return nil
}
