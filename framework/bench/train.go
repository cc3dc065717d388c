package bench

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/kernels"
	"github.com/mambakit/mambakit/framework/train"
)

// TrainOptions size a training-step benchmark: a fresh model of DModel,
// Layers, DState and Vocab, trained on Accum micro-batches of Batch ×
// SeqLen random tokens a step for Steps timed steps after Warmup untimed
// ones.
type TrainOptions struct {
	Device                        train.Device
	DModel, Layers, DState, Vocab int
	Batch, SeqLen, Steps, Warmup  int
	Seed                          uint64   // of the model and the tokens
	Complex                       bool     // complex A, B, C and states (S4D-Lin)
	NonSelective                  []string // SSM parameters that do not depend on the input
	Threads                       int      // on the CPU (0: all cores)
	BLAS                          string   // on the CPU: the matrix-multiply back end ("": the current one)
	CPUProfile                    string   // a file for a CPU profile of the timed steps
	TF32                          bool     // on a GPU: --tf32, the same as Precision tf32
	Ops                           bool     // on a GPU: time each kind of operation (CUDA events) and print where the step goes
	// Precision of the matrix products ("" is fp32; tf32 on a GPU only).
	Precision backbone.Precision
	// Recompute: one block's activations kept and the others' forward run
	// again in the backward pass (train.Placement.Recompute).
	Recompute bool
	// Accum is the micro-batches a step (gradient accumulation, as train
	// --accum; 0 is 1): forward and backward of each, their gradients
	// summed, then one mean, clip and AdamW step.
	Accum int
}

// DefaultTrain returns the defaults on dev: a small model on the CPU, the
// mamba-130m shape on a GPU.
func DefaultTrain(dev train.Device) TrainOptions {
	if dev == train.CUDA {
		return TrainOptions{Device: dev, DModel: 768, Layers: 24, DState: 16, Vocab: 50277, Batch: 8, SeqLen: 2048, Steps: 10, Warmup: 2, Seed: 1}
	}
	return TrainOptions{Device: train.CPU, DModel: 128, Layers: 4, DState: 16, Vocab: 256, Batch: 8, SeqLen: 512, Steps: 5, Warmup: 1, Seed: 1}
}

// config is the benchmarked model's configuration.
func (o TrainOptions) config() backbone.Config {
	cfg := backbone.NewConfig(o.Vocab, o.DModel, o.Layers)
	cfg.StateSize = o.DState
	cfg.NonSelective, cfg.ComplexA = o.NonSelective, o.Complex
	return cfg
}

// Train times full training steps (forward, backward, AdamW) of a fresh
// model on random tokens and writes one line a step, then
// "tokens_per_s=<n> peak_rss_mb=<n>" (on a GPU: the phases and anchors,
// trainCUDA).
func Train(o TrainOptions, w io.Writer) error {
	if o.Accum < 0 {
		return fmt.Errorf("bench train: %d micro-batches a step, want at least 1", o.Accum)
	}
	o.Accum = max(o.Accum, 1)
	if o.Device == train.CUDA {
		return trainCUDA(o, w)
	}
	pl := train.Placement{Precision: o.Precision, TF32: o.TF32, Recompute: o.Recompute}
	if err := pl.Check(); err != nil {
		return err
	}
	prec, err := pl.Products()
	if err != nil {
		return err
	}
	if err := useCPU(o.Threads, o.BLAS); err != nil {
		return err
	}
	cfg := o.config()
	m, err := backbone.New(cfg, o.Seed)
	if err != nil {
		return err
	}
	m.Precision = prec
	m.SetRecompute(o.Recompute)
	opt := backbone.NewAdamW(m, adamW)
	r := rand.New(rand.NewPCG(o.Seed, 2))
	B, L := o.Batch, o.SeqLen
	b := &backbone.Batch{B: B, L: L, Inputs: make([]int32, B*L), Targets: make([]int32, B*L)}
	step := func() (float64, error) {
		m.ZeroGrad()
		var loss float64
		for range o.Accum {
			randomTokens(r, b, o.Vocab)
			l, err := m.Forward(b, nil)
			if err != nil {
				return 0, err
			}
			if _, err := m.Backward(); err != nil {
				return 0, err
			}
			loss += l / float64(o.Accum)
		}
		if o.Accum > 1 {
			m.ScaleGrads(float32(1 / float64(o.Accum)))
		}
		m.ClipGrad(1)
		opt.Step(adamW.LR)
		return loss, nil
	}
	variant := "S6"
	if len(o.NonSelective) > 0 {
		variant = "non-selective " + strings.Join(o.NonSelective, ",")
	}
	if o.Complex {
		variant += ", complex"
	}
	products := "fp32 products"
	if m.Precision == backbone.BF16 {
		products = "bf16 products (" + kernels.BF16Kernel() + ")"
	}
	if o.Recompute {
		products += "; activations recomputed (one block's kept)"
	}
	fmt.Fprintf(w, "model: d_model %d, %d layers, d_state %d, vocab %d (%d parameters), %s; batch %d × %d tokens%s; %s; %d threads\n",
		o.DModel, o.Layers, o.DState, cfg.VocabSize, len(m.Params.Data), variant, B, L, accumNote(o.Accum), products, kernels.Threads())
	if kernels.BLAS() == "openblas" {
		printOpenBLAS(w)
	}
	for range o.Warmup { // allocates activations
		if _, err := step(); err != nil {
			return err
		}
	}
	stop, err := startProfile(o.CPUProfile)
	if err != nil {
		return err
	}
	defer stop()
	start := time.Now()
	for i := 1; i <= o.Steps; i++ {
		t0 := time.Now()
		loss, err := step()
		if err != nil {
			return err
		}
		d := time.Since(t0)
		fmt.Fprintf(w, "step %d/%d  loss %.4f  %.3fs  %.0f tokens/s\n", i, o.Steps, loss, d.Seconds(), float64(B*L*o.Accum)/d.Seconds())
	}
	el := time.Since(start).Seconds()
	fmt.Fprintf(w, "tokens_per_s=%.1f peak_rss_mb=%.1f\n", float64(B*L*o.Accum*o.Steps)/el, peakRSSMB())
	return nil
}

// accumNote says how many micro-batches make a step, when more than one.
func accumNote(accum int) string {
	if accum <= 1 {
		return ""
	}
	return fmt.Sprintf(", %d micro-batches a step (gradient accumulation)", accum)
}

// adamW is the benchmarks' optimizer.
var adamW = backbone.AdamWConfig{LR: 1e-3, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1}

// randomTokens fills b's inputs and targets with ids below vocab.
func randomTokens(r *rand.Rand, b *backbone.Batch, vocab int) {
	for i := range b.Inputs {
		b.Inputs[i] = int32(r.IntN(vocab))
		b.Targets[i] = int32(r.IntN(vocab))
	}
}

// startProfile starts a CPU profile into path ("": none) and returns
// what stops it.
func startProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("bench: CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("bench: CPU profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
