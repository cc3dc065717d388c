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

// Train times full training steps (forward, backward, clip, AdamW) of a
// fresh model on random tokens, on the CPU or a GPU: the step is
// train.Step on a train.Model, as `train` takes it. It writes one line a
// step, then on the CPU "tokens_per_s=<n> peak_rss_mb=<n>", on a GPU the
// median, MFU and anchors (gpuTrain).
func Train(o TrainOptions, w io.Writer) error {
	if o.Accum < 0 {
		return fmt.Errorf("bench train: %d micro-batches a step, want at least 1", o.Accum)
	}
	o.Accum = max(o.Accum, 1)
	pl := train.Placement{Device: o.Device, Precision: o.Precision, TF32: o.TF32, Recompute: o.Recompute}
	if err := pl.Check(); err != nil {
		return err
	}
	prec, err := pl.Products()
	if err != nil {
		return err
	}
	var dev trainDevice
	if o.Device == train.CUDA {
		dev = &gpuTrain{o: o, prec: prec, peak: peakMode(prec)}
	} else {
		if err := useCPU(o.Threads, o.BLAS); err != nil {
			return err
		}
		dev = &cpuTrain{o: o}
	}
	if err := dev.open(w); err != nil {
		return err
	}
	cfg := o.config()
	t0 := time.Now()
	m, err := backbone.New(cfg, o.Seed)
	if err != nil {
		return err
	}
	dm, err := train.NewModel(m, backbone.NewAdamW(m, adamW), pl)
	if err != nil {
		return err
	}
	defer dm.Close()
	if err := dev.placed(dm, m, w, time.Since(t0)); err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(o.Seed, 2))
	B, L, A := o.Batch, o.SeqLen, o.Accum
	// A step's micro-batches, their tokens drawn before the step is timed.
	bs := make([]*backbone.Batch, A)
	for a := range bs {
		bs[a] = &backbone.Batch{B: B, L: L, Inputs: make([]int32, B*L), Targets: make([]int32, B*L)}
	}
	st := &train.Step{Accum: A, Clip: 1, Mark: dev.mark,
		Batch: func(a int) (*backbone.Batch, error) { return bs[a], nil }}
	step := func() (float64, stepTimes, error) {
		for _, b := range bs {
			randomTokens(r, b, o.Vocab)
		}
		t0 := time.Now()
		loss, _, err := st.Run(dm, adamW.LR)
		if err != nil {
			return 0, stepTimes{}, err
		}
		tm, err := dev.finish()
		tm.step = time.Since(t0).Seconds()
		return loss, tm, err
	}
	for range o.Warmup { // allocates activations
		if _, _, err := step(); err != nil {
			return err
		}
	}
	stop, err := dev.timed()
	if err != nil {
		return err
	}
	defer stop()
	tok := float64(B * L * A)
	var all []stepTimes
	for i := 1; i <= o.Steps; i++ {
		loss, tm, err := step()
		if err != nil {
			return err
		}
		if err := dev.after(); err != nil {
			return err
		}
		all = append(all, tm)
		fmt.Fprintf(w, "step %d/%d  loss %.4f  %s (forward %s, backward %s, clip+AdamW %s)  %.0f tokens/s\n",
			i, o.Steps, loss, dev.dur(tm.step), dev.dur(tm.fwd), dev.dur(tm.bwd), dev.dur(tm.opt), tok/tm.step)
	}
	return dev.summary(w, all, tok)
}

// stepTimes are a timed step's seconds: the whole (host's wall clock)
// and its phases (the device's clock).
type stepTimes struct{ step, fwd, bwd, opt float64 }

// trainDevice is what bench train does on its device around the shared
// step: the device's lines, a clock of the phases, and the summary.
type trainDevice interface {
	open(w io.Writer) error                                                          // before the model: the device
	placed(dm train.Model, m *backbone.Model, w io.Writer, took time.Duration) error // the model's line
	mark(train.Phase)                                                                // a phase begins (train.Step.Mark)
	finish() (stepTimes, error)                                                      // the step's work done: its phases
	timed() (stop func(), err error)                                                 // the timed steps begin
	after() error                                                                    // a timed step ended
	dur(s float64) string                                                            // a time as the step lines show it
	summary(w io.Writer, steps []stepTimes, tokens float64) error
}

// phaseMarks sums the spans between a step's marks by phase: the span
// from mark i to mark i+1 counts to mark i's phase.
func phaseMarks(phases []train.Phase, span func(i int) (float64, error)) (stepTimes, error) {
	var tm stepTimes
	for i := 0; i+1 < len(phases); i++ {
		s, err := span(i)
		if err != nil {
			return tm, err
		}
		switch phases[i] {
		case train.PhaseForward:
			tm.fwd += s
		case train.PhaseBackward:
			tm.bwd += s
		case train.PhaseOptimizer:
			tm.opt += s
		}
	}
	return tm, nil
}

// cpuTrain is bench train on the CPU: the host's clock.
type cpuTrain struct {
	o      TrainOptions
	phases []train.Phase
	at     []time.Time
	start  time.Time
}

func (c *cpuTrain) open(io.Writer) error { return nil }

func (c *cpuTrain) placed(_ train.Model, m *backbone.Model, w io.Writer, _ time.Duration) error {
	o, cfg := c.o, &m.Config
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
		o.DModel, o.Layers, o.DState, cfg.VocabSize, len(m.Params.Data), variant, o.Batch, o.SeqLen, accumNote(o.Accum), products, kernels.Threads())
	if kernels.BLAS() == "openblas" {
		printOpenBLAS(w)
	}
	return nil
}

func (c *cpuTrain) mark(p train.Phase) {
	c.phases = append(c.phases, p)
	c.at = append(c.at, time.Now())
}

func (c *cpuTrain) finish() (stepTimes, error) {
	tm, err := phaseMarks(c.phases, func(i int) (float64, error) { return c.at[i+1].Sub(c.at[i]).Seconds(), nil })
	c.phases, c.at = c.phases[:0], c.at[:0]
	return tm, err
}

func (c *cpuTrain) timed() (func(), error) {
	stop, err := startProfile(c.o.CPUProfile)
	if err != nil {
		return nil, err
	}
	c.start = time.Now()
	return stop, nil
}

func (c *cpuTrain) after() error         { return nil }
func (c *cpuTrain) dur(s float64) string { return fmt.Sprintf("%.3fs", s) }

func (c *cpuTrain) summary(w io.Writer, steps []stepTimes, tokens float64) error {
	el := time.Since(c.start).Seconds()
	fmt.Fprintf(w, "tokens_per_s=%.1f peak_rss_mb=%.1f\n", tokens*float64(len(steps))/el, peakRSSMB())
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
