package bench

import (
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/cuda"
	"github.com/mambakit/mambakit/framework/cudamodel"
	"github.com/mambakit/mambakit/framework/train"
)

// trainAnchors are the reference throughputs of a training step of the
// mamba-130m shape (d_model 768, 24 layers, vocab 50280, d_state 16) at
// batch 8 × 2048 tokens, in tokens/s: state-spaces/mamba built from source
// with Dao-AILab/causal-conv1d (its fused mamba_inner_fn path) and with it
// disabled, measured by scripts/gpu/peer.sh on an H100 80GB on 2026-12-06
// in the same call as mambakit's figures (docs/benchmarks.md, "GPU,
// 2026-12-06 (session 28)"; its bf16 figure is 1.11× the 144,466 of an
// earlier call that day).
var trainAnchors = []struct {
	name string
	tps  float64
}{
	{"state-spaces/mamba + causal-conv1d, fp32", 45139},
	{"state-spaces/mamba + causal-conv1d, TF32", 109272},
	{"state-spaces/mamba + causal-conv1d, bf16 autocast", 160822},
	{"state-spaces/mamba without causal-conv1d, fp32", 40880},
	{"state-spaces/mamba without causal-conv1d, TF32", 87262},
	{"state-spaces/mamba without causal-conv1d, bf16 autocast", 117387},
}

// trainCUDA times full training steps (forward, backward, gradient
// clipping, AdamW) of a fresh model on random tokens on the GPU
// (framework/cudamodel). Times are wall-clock per step, the device
// synchronized at the end of each; the phases are split with device events.
func trainCUDA(o TrainOptions, stdout io.Writer) error {
	prec, err := train.Placement{Device: train.CUDA, TF32: o.TF32, Precision: o.Precision}.Products()
	if err != nil {
		return err
	}
	d, err := cuda.Open()
	if err != nil {
		return err
	}
	defer d.Close()
	fmt.Fprintf(stdout, "device: %s\n", d)
	// The ceiling MFU is reckoned against, before the model takes the
	// memory: cuBLAS at 8192³ in the precision's mode.
	timer, err := newCudaTimer(d, 2, 5)
	if err != nil {
		return err
	}
	peak := peakMode(prec)
	rate, err := gemmRate(d, timer, 8192, peak)
	if err != nil {
		return fmt.Errorf("cublas %s rate: %w", peak.name, err)
	}
	cfg := o.config()
	t0 := time.Now()
	g, err := newGPUModel(d, cfg, o.Seed)
	if err != nil {
		return err
	}
	defer g.Close()
	if err := g.SetPrecision(prec); err != nil {
		return err
	}
	g.SetRecompute(o.Recompute)
	mode := map[backbone.Precision]string{backbone.FP32: "float32", backbone.TF32: "TF32 projections",
		backbone.BF16: "bf16 products (bfloat16 operands, float32 sums)"}[prec]
	if o.Recompute {
		mode += "; activations recomputed (one block's kept)"
	}
	fmt.Fprintf(stdout, "model: d_model %d, %d layers, d_state %d, vocab %d (%d parameters); batch %d × %d tokens%s; %s (init and upload %.1fs)\n",
		o.DModel, o.Layers, o.DState, cfg.VocabSize, g.NumParams(), o.Batch, o.SeqLen, accumNote(o.Accum), mode, time.Since(t0).Seconds())
	r := rand.New(rand.NewPCG(o.Seed, 2))
	B, L, A := o.Batch, o.SeqLen, o.Accum
	// A step's micro-batches, their tokens drawn before the step is timed.
	bs := make([]*backbone.Batch, A)
	for a := range bs {
		bs[a] = &backbone.Batch{B: B, L: L, Inputs: make([]int32, B*L), Targets: make([]int32, B*L)}
	}
	// Events: before each micro-batch's forward and backward, and before
	// and after the clip and AdamW.
	ev := make([]*cuda.Event, 2*A+2)
	for i := range ev {
		if ev[i], err = d.NewEvent(); err != nil {
			return err
		}
	}
	type times struct{ step, fwd, bwd, opt float64 }
	step := func() (float64, times, error) {
		var tm times
		for _, b := range bs {
			randomTokens(r, b, o.Vocab)
		}
		t0 := time.Now()
		ev[0].Record(nil)
		if err := g.ZeroGrad(); err != nil {
			return 0, tm, err
		}
		var loss float64
		for a, b := range bs {
			if a > 0 {
				ev[2*a].Record(nil)
			}
			l, err := g.Forward(b, nil)
			if err != nil {
				return 0, tm, err
			}
			loss += l / float64(A)
			ev[2*a+1].Record(nil)
			if err := g.Backward(); err != nil {
				return 0, tm, err
			}
		}
		ev[2*A].Record(nil)
		if A > 1 {
			if err := g.ScaleGrads(float32(1 / float64(A))); err != nil {
				return 0, tm, err
			}
		}
		if _, err := g.ClipGrad(1); err != nil {
			return 0, tm, err
		}
		if err := g.Step(adamW, adamW.LR); err != nil {
			return 0, tm, err
		}
		ev[2*A+1].Record(nil)
		if err := d.Synchronize(); err != nil {
			return 0, tm, err
		}
		tm.step = time.Since(t0).Seconds()
		for i := range ev[:len(ev)-1] {
			ms, err := cuda.ElapsedMs(ev[i], ev[i+1])
			if err != nil {
				return 0, tm, err
			}
			switch {
			case i == 2*A:
				tm.opt += float64(ms) / 1e3
			case i%2 == 0:
				tm.fwd += float64(ms) / 1e3
			default:
				tm.bwd += float64(ms) / 1e3
			}
		}
		return loss, tm, nil
	}
	for range o.Warmup {
		if _, _, err := step(); err != nil {
			return err
		}
	}
	var ops opTable
	if o.Ops {
		if err := g.TimeOps(true); err != nil {
			return err
		}
	}
	tok := float64(B * L * A)
	var all []float64
	var sum times
	for i := 1; i <= o.Steps; i++ {
		loss, tm, err := step()
		if err != nil {
			return err
		}
		if err := ops.add(g); err != nil {
			return err
		}
		all = append(all, tm.step)
		sum.step += tm.step
		sum.fwd += tm.fwd
		sum.bwd += tm.bwd
		sum.opt += tm.opt
		fmt.Fprintf(stdout, "step %d/%d  loss %.4f  %.1f ms (forward %.1f, backward %.1f, clip+AdamW %.1f)  %.0f tokens/s\n",
			i, o.Steps, loss, 1e3*tm.step, 1e3*tm.fwd, 1e3*tm.bwd, 1e3*tm.opt, tok/tm.step)
	}
	med := upperMedian(all)
	n := float64(o.Steps)
	free, total, _ := d.MemInfo()
	fmt.Fprintf(stdout, "median step %.1f ms: %.0f tokens/s (mean %.0f); forward %.1f ms, backward %.1f ms, clip+AdamW %.1f ms (means); device memory in use %.1f GiB\n",
		1e3*med, tok/med, tok*n/sum.step, 1e3*sum.fwd/n, 1e3*sum.bwd/n, 1e3*sum.opt/n, float64(total-free)/(1<<30))
	work := matrixFLOPsPerToken(&cfg) * tok
	fmt.Fprintf(stdout, "matrix products %.2f TFLOP a step: %.1f TFLOP/s, MFU %.1f%% of cuBLAS 8192³ %s (%.1f TFLOP/s, measured at the start)\n",
		work/1e12, work/med/1e12, 100*work/med/rate, peak.name, rate/1e12)
	fmt.Fprintf(stdout, "tokens_per_s=%.1f mfu=%.4f memory_gib=%.2f\n", tok/med, work/med/rate, float64(total-free)/(1<<30))
	if o.Ops {
		ops.print(stdout, "forward + backward", o.Steps, sum.fwd+sum.bwd)
	}
	if o.DModel == 768 && o.Layers == 24 && cfg.VocabSize == 50280 && o.DState == 16 && B == 8 && L == 2048 && A == 1 && !o.Complex && len(o.NonSelective) == 0 {
		fmt.Fprintf(stdout, "anchors (mamba-130m shape, batch 8 × 2048; H100 80GB, 2026-12-06: compare on that card):\n")
		for _, a := range trainAnchors {
			fmt.Fprintf(stdout, "  %-56s %9.0f tokens/s  (this run: %.2f×)\n", a.name, a.tps, tok/med/a.tps)
		}
	}
	return nil
}

// newGPUModel uploads a fresh model of cfg to d.
func newGPUModel(d *cuda.Device, cfg backbone.Config, seed uint64) (*cudamodel.Model, error) {
	m, err := backbone.New(cfg, seed)
	if err != nil {
		return nil, err
	}
	return cudamodel.New(d, m)
}
