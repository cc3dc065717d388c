package bench

import (
	"fmt"
	"io"
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

// gpuTrain is bench train on a GPU (framework/cudamodel through
// train.NewModel): the phases split with device events, the step's time
// wall-clock with the device synchronized at its end, MFU against
// cuBLAS's rate on the card, and with Ops the time of each kind of
// operation.
type gpuTrain struct {
	o      TrainOptions
	d      *cuda.Device
	g      *cudamodel.Model
	prec   backbone.Precision
	rate   float64 // cuBLAS at 8192³ in the precision's mode, FLOP/s
	peak   gemmMode
	ev     []*cuda.Event // a step's marks, reused
	phases []train.Phase
	ops    opTable
}

// open prints the device and measures the ceiling MFU is reckoned
// against, cuBLAS at 8192³ in the precision's mode, before the model
// takes the device's memory (as the runs before train.Step did).
func (c *gpuTrain) open(w io.Writer) error {
	d, err := cuda.Open()
	if err != nil {
		return err
	}
	defer d.Close()
	fmt.Fprintf(w, "device: %s\n", d)
	timer, err := newCudaTimer(d, 2, 5)
	if err != nil {
		return err
	}
	if c.rate, err = gemmRate(d, timer, 8192, c.peak); err != nil {
		return fmt.Errorf("cublas %s rate: %w", c.peak.name, err)
	}
	return nil
}

func (c *gpuTrain) placed(dm train.Model, _ *backbone.Model, w io.Writer, took time.Duration) error {
	if c.g, c.d = train.GPUModel(dm); c.g == nil {
		return fmt.Errorf("bench train: the model is not on a GPU")
	}
	var err error
	c.ev = make([]*cuda.Event, 2*max(c.o.Accum, 1)+2)
	for i := range c.ev {
		if c.ev[i], err = c.d.NewEvent(); err != nil {
			return err
		}
	}
	o, cfg := c.o, dm.Config()
	mode := map[backbone.Precision]string{backbone.FP32: "float32", backbone.TF32: "TF32 projections",
		backbone.BF16: "bf16 products (bfloat16 operands, float32 sums)"}[c.prec]
	if o.Recompute {
		mode += "; activations recomputed (one block's kept)"
	}
	fmt.Fprintf(w, "model: d_model %d, %d layers, d_state %d, vocab %d (%d parameters); batch %d × %d tokens%s; %s (init and upload %.1fs)\n",
		o.DModel, o.Layers, o.DState, cfg.VocabSize, c.g.NumParams(), o.Batch, o.SeqLen, accumNote(o.Accum), mode, took.Seconds())
	return nil
}

// mark records the step's next event (2 a micro-batch, then 2: placed
// made them).
func (c *gpuTrain) mark(p train.Phase) {
	if i := len(c.phases); i < len(c.ev) {
		c.phases = append(c.phases, p)
		c.ev[i].Record(nil)
	}
}

func (c *gpuTrain) finish() (stepTimes, error) {
	defer func() { c.phases = c.phases[:0] }()
	if err := c.d.Synchronize(); err != nil {
		return stepTimes{}, err
	}
	return phaseMarks(c.phases, func(i int) (float64, error) {
		ms, err := cuda.ElapsedMs(c.ev[i], c.ev[i+1])
		return float64(ms) / 1e3, err
	})
}

func (c *gpuTrain) timed() (func(), error) {
	if c.o.Ops {
		if err := c.g.TimeOps(true); err != nil {
			return nil, err
		}
	}
	return func() {}, nil
}

func (c *gpuTrain) after() error {
	return c.ops.add(c.g)
}

func (c *gpuTrain) dur(s float64) string { return fmt.Sprintf("%.1f ms", 1e3*s) }

func (c *gpuTrain) summary(w io.Writer, steps []stepTimes, tok float64) error {
	o, cfg := c.o, c.g.Config
	var all []float64
	var sum stepTimes
	for _, tm := range steps {
		all = append(all, tm.step)
		sum.step += tm.step
		sum.fwd += tm.fwd
		sum.bwd += tm.bwd
		sum.opt += tm.opt
	}
	med := upperMedian(all)
	n := float64(len(steps))
	free, total, _ := c.d.MemInfo()
	fmt.Fprintf(w, "median step %.1f ms: %.0f tokens/s (mean %.0f); forward %.1f ms, backward %.1f ms, clip+AdamW %.1f ms (means); device memory in use %.1f GiB\n",
		1e3*med, tok/med, tok*n/sum.step, 1e3*sum.fwd/n, 1e3*sum.bwd/n, 1e3*sum.opt/n, float64(total-free)/(1<<30))
	work := matrixFLOPsPerToken(&cfg) * tok
	fmt.Fprintf(w, "matrix products %.2f TFLOP a step: %.1f TFLOP/s, MFU %.1f%% of cuBLAS 8192³ %s (%.1f TFLOP/s, measured at the start)\n",
		work/1e12, work/med/1e12, 100*work/med/c.rate, c.peak.name, c.rate/1e12)
	fmt.Fprintf(w, "tokens_per_s=%.1f mfu=%.4f memory_gib=%.2f\n", tok/med, work/med/c.rate, float64(total-free)/(1<<30))
	if o.Ops {
		c.ops.print(w, "forward + backward", len(steps), sum.fwd+sum.bwd)
	}
	if o.DModel == 768 && o.Layers == 24 && cfg.VocabSize == 50280 && o.DState == 16 && o.Batch == 8 && o.SeqLen == 2048 && o.Accum == 1 && !o.Complex && len(o.NonSelective) == 0 {
		fmt.Fprintf(w, "anchors (mamba-130m shape, batch 8 × 2048; H100 80GB, 2026-12-06: compare on that card):\n")
		for _, a := range trainAnchors {
			fmt.Fprintf(w, "  %-56s %9.0f tokens/s  (this run: %.2f×)\n", a.name, a.tps, tok/med/a.tps)
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
