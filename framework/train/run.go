package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/distributed"
	"github.com/mambakit/mambakit/framework/kernels"
	"github.com/mambakit/mambakit/internal/atomicfile"
	"github.com/mambakit/mambakit/internal/buildinfo"
)

// Run describes a training run. The CLI fills it from flags and the
// modality plugin; tests fill it directly.
type Run struct {
	Dir          string // run directory: checkpoints, metrics.jsonl, curves.png, samples/
	Config       Config // resolved (Config.Resolve)
	Train, Valid *Data
	VocabSize    int    // the dataset's; the model pads it to a multiple of 8
	Modality     Plugin // recorded in config.yaml and every checkpoint
	// PrepareOptions are the plugin options the data was prepared with,
	// recorded so that eval, generate and resume can encode and decode the
	// same way.
	PrepareOptions map[string]string
	Artifacts      []string
	// Special are the modality's special token ids (sdk.Info.Special, as
	// the dataset's tokenizer has them): recorded in mambakit.json, and
	// written to config.json as bos, eos and pad (specialIDs).
	Special map[string]int32
	// Baseline is the best Markov baseline's validation bits per unit,
	// drawn beside the curves (0: unknown); BaselineOrder is its order.
	Baseline      float64
	BaselineOrder int
	// StopTokens end a sample (the modality's end-of-document tokens).
	StopTokens []int32
	// Sample, when set, turns generated tokens (the first prompt of them
	// the prompt) into a file (text, FASTA, WAV) under dir and returns its
	// path; it is called at each evaluation.
	Sample func(ctx context.Context, tokens []int32, prompt int, dir string, step int) (string, error)

	Out      io.Writer // progress
	Terminal bool      // Out is a terminal: draw a live bar

	// Device runs the run's model: the CPU (the Go kernels) or "cuda"
	// (framework/cudamodel): training steps, evaluation and samples;
	// checkpoints read the host model, brought up to date before each.
	// TF32 lets the GPU's projections use TF32 tensor cores.
	Device Device
	TF32   bool
	// Precision of the matrix products (backbone.Precision; "" is fp32):
	// like the device, not part of the run's configuration.
	Precision backbone.Precision
	// Recompute: activation recomputation (Placement.Recompute), also not
	// part of the run's configuration.
	Recompute bool
	// Dist, when set, makes this process one rank of a data-parallel job
	// on several GPUs (framework/distributed): Config.Batch is then the
	// global batch, and only rank 0 writes to Dir.
	Dist *distributed.Job
}

// Result summarizes a finished (or interrupted) run.
type Result struct {
	Step        int
	Checkpoint  string
	Interrupted bool // the context was cancelled; a checkpoint was written
	LastEval    *Eval
}

// ErrNonFinite is wrapped by the error a run returns when a loss or a
// gradient is NaN or infinite.
var ErrNonFinite = errors.New("non-finite loss or gradient")

// ErrRunExists is wrapped by Start's error when the run directory already
// holds a run.
var ErrRunExists = errors.New("already holds a run")

// Start begins a new run in r.Dir (which must not hold a checkpoint yet),
// owning the directory (LockRunDir) until it returns. The model is new,
// or with Config.InitFrom the model of that directory (fine-tuning, with
// a fresh optimizer and schedule).
func Start(ctx context.Context, r *Run) (Result, error) {
	if r.Dist.Lead() {
		release, err := ClaimNewRunDir(r.Dir)
		if err != nil {
			return Result{}, err
		}
		defer release()
	}
	c := r.Config
	m, err := r.newModel()
	if err != nil {
		return Result{}, err
	}
	specialIDs(&m.Config, r.Special)
	if r.Dist.Lead() {
		if err := os.MkdirAll(r.Dir, 0o755); err != nil {
			return Result{}, fmt.Errorf("create run directory: %w", err)
		}
		os.Remove(filepath.Join(r.Dir, "metrics.jsonl"))
		if err := r.writeResolvedConfig(); err != nil {
			return Result{}, err
		}
		if c.InitFrom != "" {
			r.Event("started from the model in %s (fresh optimizer and schedule)", c.InitFrom)
		}
	}
	ld, err := NewLoader(r.Train, c.Batch, c.SeqLen, c.TBPTT, c.Seed)
	if err != nil {
		return Result{}, err
	}
	opt := newOptimizer(m, c)
	var carried *backbone.State
	if c.TBPTT {
		carried = m.NewState(c.Batch)
	}
	return r.loop(ctx, m, opt, ld, carried, 0, nil)
}

// Resume continues the run in r.Dir from its latest checkpoint up to
// r.Config.Steps, owning the directory (LockRunDir) until it returns.
// The settings named in Resumable are taken from r.Config where set
// (non-zero); everything else comes from the checkpoint, so the resumed
// run computes exactly what the uninterrupted run would have.
func Resume(ctx context.Context, r *Run) (Result, error) {
	if r.Dist.Lead() {
		release, err := LockRunDir(r.Dir)
		if err != nil {
			return Result{}, err
		}
		defer release()
	}
	dir, err := LatestCheckpoint(r.Dir)
	if err != nil {
		return Result{}, err
	}
	m, ts, st, err := loadCheckpoint(dir)
	if err != nil {
		return Result{}, err
	}
	specialIDs(&m.Config, r.Special)
	c := ts.Config.resumeWith(r.Config)
	if c.Steps <= ts.Step {
		return Result{Step: ts.Step, Checkpoint: dir}, fmt.Errorf("the run is already at step %d; ask for more steps", ts.Step)
	}
	if err := m.Config.CheckBatchWith(c.Batch, c.SeqLen, r.Recompute); err != nil {
		return Result{}, fmt.Errorf("checkpoint %s: %w", filepath.Join(dir, trainerJSON), err)
	}
	r.Config = c
	ld, err := NewLoader(r.Train, c.Batch, c.SeqLen, c.TBPTT, c.Seed)
	if err != nil {
		return Result{}, err
	}
	if err := ld.UnmarshalBinary(ts.Cursor); err != nil {
		return Result{}, fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	opt := newOptimizer(m, c)
	if err := restoreOptimizer(opt, st, ts.OptSteps); err != nil {
		return Result{}, err
	}
	var carried *backbone.State
	if c.TBPTT {
		carried = m.NewState(c.Batch)
		if err := restoreCarried(st, carried); err != nil {
			return Result{}, err
		}
	}
	history, err := readMetrics(filepath.Join(r.Dir, "metrics.jsonl"), ts.Step)
	if err != nil {
		return Result{}, err
	}
	if r.Dist.Lead() {
		if err := r.writeResolvedConfig(); err != nil {
			return Result{}, err
		}
	}
	return r.loop(ctx, m, opt, ld, carried, ts.Step, history)
}

// newModel builds the run's model: a new one of the configured size, or
// the model of Config.InitFrom, whose embedding must fit the dataset's
// vocabulary (CheckVocab).
func (r *Run) newModel() (*backbone.Model, error) {
	c := r.Config
	if c.InitFrom != "" {
		info, err := ReadRunInfo(c.InitFrom)
		if err != nil {
			return nil, fmt.Errorf("init_from: %w", err)
		}
		m, err := backbone.Load(info.Checkpoint)
		if err != nil {
			return nil, fmt.Errorf("init_from: %w", err)
		}
		if err := m.Params.CheckFinite(&m.Config); err != nil {
			return nil, fmt.Errorf("init_from %s: %w", info.Checkpoint, err)
		}
		if err := CheckVocab("the dataset's vocabulary", r.VocabSize, info.Checkpoint, m.Config.VocabSize); err != nil {
			return nil, err
		}
		if err := c.checkModel(&m.Config); err != nil {
			return nil, fmt.Errorf("init_from %s: %w", info.Checkpoint, err)
		}
		if err := m.Config.CheckBatchWith(c.Batch, c.SeqLen, r.Recompute); err != nil {
			return nil, err
		}
		return m, nil
	}
	mc := backbone.NewConfig(r.VocabSize, c.DModel, c.Layers)
	mc.StateSize, mc.ConvKernel, mc.Expand = c.DState, c.ConvKernel, c.Expand
	mc.IntermediateSize = c.Expand * c.DModel
	mc.NonSelective = c.NonSelective
	mc.ComplexA = c.Complex
	mc.AInit = c.AInit
	if err := mc.CheckBatchWith(c.Batch, c.SeqLen, r.Recompute); err != nil {
		return nil, err
	}
	return backbone.New(mc, c.Seed)
}

func newOptimizer(m *backbone.Model, c Config) *backbone.AdamW {
	return backbone.NewAdamW(m, backbone.AdamWConfig{LR: c.LR, Beta1: c.Beta1, Beta2: c.Beta2, Eps: c.Eps, WeightDecay: c.WeightDec})
}

// runRecord is config.yaml: the resolved configuration, then what the run
// records beside it (the plugin that made the data, the baseline, the
// mambakit build that trained). ReadConfig reads it back as a
// configuration, ignoring the record.
type runRecord struct {
	Config   `yaml:",inline"`
	Modality Plugin            `yaml:"modality"`
	Options  map[string]string `yaml:"prepare_options,omitempty"`
	Vocab    int               `yaml:"vocab_size"`
	Baseline *baselineRecord   `yaml:"baseline,omitempty"`
	Build    buildinfo.Info    `yaml:"mambakit"`
}

// writeResolvedConfig saves config.yaml (runRecord), at the start of the
// run and at each resume (the build may differ).
func (r *Run) writeResolvedConfig() error {
	b, err := yaml.Marshal(runRecord{r.Config, r.Modality, r.PrepareOptions, r.VocabSize, r.baselineRecord(), buildinfo.Read()})
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(r.Dir, "config.yaml"), b, 0o644)
}

// loop runs steps from+1 .. Config.Steps.
func (r *Run) loop(ctx context.Context, m *backbone.Model, opt *backbone.AdamW, ld *Loader, carried *backbone.State, from int, history []Metric) (_ Result, retErr error) {
	c := r.Config
	if c.Threads > 0 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(c.Threads))
	}
	kernels.SetThreads(c.Threads)
	lead := r.Dist.Lead() // rank 0 (or the only process) writes and evaluates
	if err := r.Dist.Check(c.Batch, r.Device == CUDA, c.TBPTT); err != nil {
		return Result{}, err
	}
	dm, err := NewModel(m, opt, Placement{Device: r.Device, GPU: r.Dist.GPU(), TF32: r.TF32, Precision: r.Precision, Recompute: r.Recompute, BLAS: c.BLAS})
	if err != nil {
		return Result{}, err
	}
	release := true // false when a failed job may still use the device
	defer func() {
		if release {
			dm.Close()
		}
	}()
	// The state carried across steps (TBPTT) lives on the device; carried
	// is its host copy, which checkpoints hold.
	var dstate State
	if carried != nil {
		if dstate, err = dm.NewState(carried.B); err != nil {
			return Result{}, err
		}
		defer dstate.Free()
		if err := dstate.CopyFrom(carried); err != nil {
			return Result{}, err
		}
	}
	zeroGrad := dm.ZeroGrad
	forwardBackward := func(b *backbone.Batch) (float64, error) {
		l, err := dm.Forward(b, dstate)
		if err != nil {
			return 0, err
		}
		return l, dm.Backward()
	}
	// On several GPUs this process trains its rows of each batch, and
	// every rank stops after the same step.
	var ds *distributed.Replica
	if r.Dist != nil && r.Dist.World > 1 {
		if ds, err = distributed.NewReplica(ctx, r.Dist, dm.(*cudaModel).g, c.Accum, r.Out); err != nil {
			return Result{}, err
		}
		defer func() { release = ds.Close(retErr == nil) }()
		forwardBackward, zeroGrad = ds.ForwardBackward, ds.ZeroGrad
	}
	sync := func() error {
		if err := dm.Sync(); err != nil {
			return err
		}
		if carried != nil {
			return dstate.CopyTo(carried)
		}
		return nil
	}
	ml := &metricsLog{}
	if lead {
		if ml, err = openMetrics(filepath.Join(r.Dir, "metrics.jsonl")); err != nil {
			return Result{}, err
		}
	}
	defer ml.close()
	out := r.Out
	if out == nil || !lead {
		out = io.Discard
	}
	unit := r.Modality.Unit
	if unit == "" {
		unit = "token"
	}
	pr := &progress{w: out, terminal: r.Terminal, logEvery: c.LogEvery, total: c.Steps, start: time.Now(), first: from, unit: unit}
	upt := r.Train.UnitsPerToken
	ts := trainerState{Config: c, Modality: r.Modality, VocabSize: r.VocabSize, PrepareOptions: r.PrepareOptions, Build: buildinfo.Read()}
	res := Result{Step: from}
	lastSaved := -1
	if from > 0 {
		res.Checkpoint, _ = LatestCheckpoint(r.Dir)
		lastSaved = from
	}
	save := func(step int) error {
		if !lead {
			res.Checkpoint, lastSaved = "", step
			return nil
		}
		if err := sync(); err != nil {
			return err
		}
		p, err := saveCheckpoint(r.Dir, step, m, opt, ld, carried, ts, r.Special, r.Artifacts, c.KeepLast)
		if err != nil {
			return err
		}
		res.Checkpoint, lastSaved = p, step
		return nil
	}
	batch := ld.NewBatch()
	st := &Step{Accum: c.Accum, Clip: c.GradClip, ZeroGrad: zeroGrad, Pass: forwardBackward,
		Batch: func(int) (*backbone.Batch, error) { ld.Next(batch); return batch, nil }}
	tokens := float64(c.Batch * c.SeqLen * c.Accum)
	for step := from + 1; step <= c.Steps; step++ {
		stop := ctx.Err() != nil
		if ds != nil {
			stop = ds.StopAgreed()
		}
		if stop {
			if lastSaved != res.Step {
				if err := save(res.Step); err != nil {
					return res, err
				}
			}
			res.Interrupted = true
			r.Event("interrupted at step %d; checkpoint %s", res.Step, res.Checkpoint)
			return res, nil
		}
		t0 := time.Now()
		lr := c.LRAt(step)
		loss, gn, err := st.Run(dm, lr)
		if errors.Is(err, ErrNonFinite) {
			return res, fmt.Errorf("step %d: loss %v, gradient norm %v: %w; stopped without saving (last good checkpoint: %s)", step, loss, gn, ErrNonFinite, orNone(res.Checkpoint))
		}
		if err != nil {
			return res, err
		}
		res.Step = step
		met := Metric{Step: step, Loss: loss, LR: lr, GradNorm: gn, TokensPerS: tokens / time.Since(t0).Seconds()}
		if lead && (step%c.EvalEvery == 0 || step == c.Steps) {
			// An evaluation that has begun finishes even when Ctrl-C comes
			// (it is bounded by eval_tokens), so an interrupted and resumed
			// run records the same metrics as an uninterrupted one; the
			// interrupt takes effect before the next step.
			evalCtx := context.WithoutCancel(ctx)
			ev, err := Evaluate(evalCtx, dm, r.Valid, c.Batch, c.SeqLen, c.EvalTokens)
			if err != nil {
				return res, fmt.Errorf("step %d: evaluate: %w", step, err)
			}
			if math.IsNaN(ev.NatsPerToken) || math.IsInf(ev.NatsPerToken, 0) {
				return res, fmt.Errorf("step %d: validation loss %v: %w; stopped without saving (last good checkpoint: %s)", step, ev.NatsPerToken, ErrNonFinite, orNone(res.Checkpoint))
			}
			res.LastEval = &ev
			met.ValLoss, met.ValBPU = &ev.NatsPerToken, &ev.BitsPerUnit
			if ev.Answers > 0 {
				met.ValAcc = &ev.Accuracy
			}
			// The sample goes through the plugin, which may hang: after
			// Ctrl-C it gets sampleGrace, not the evaluation's patience.
			sctx, stop := graceAfter(ctx, sampleGrace)
			if p, err := r.sample(sctx, dm, step); err != nil && sctx.Err() != nil {
				r.Event("step %d: sample skipped: interrupted, and it was not done %v later", step, sampleGrace)
			} else if err != nil {
				r.Event("step %d: sample skipped: %v", step, err)
			} else {
				met.Sample = p
			}
			stop()
		}
		if lead {
			if err := ml.write(met); err != nil {
				return res, err
			}
		}
		history = append(history, met)
		pr.step(step, loss, loss/math.Ln2/upt, met.ValBPU, met.ValAcc, met.TokensPerS)
		if met.ValBPU != nil {
			if err := plotCurves(filepath.Join(r.Dir, "curves.png"), r.Dir, history, unit, upt, r.Baseline, r.BaselineOrder); err != nil {
				pr.line("%v", err)
			}
		}
		if step%c.SaveEvery == 0 || step == c.Steps {
			if err := save(step); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

// sampleGrace is how long an evaluation's sample (the plugin's Decode) may
// still run after Ctrl-C: a plugin that answers at once still writes the
// sample, one that hangs or is stopped is given up, so the interrupt takes
// effect within a second or two whatever the plugin does (it held the run
// for as long as the plugin hung; found by the fault campaign).
const sampleGrace = 250 * time.Millisecond

// graceAfter returns a context that ends grace after ctx does.
func graceAfter(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	c, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(grace, cancel) })
	return c, func() { stop(); cancel() }
}

// sample generates Config.SampleTokens tokens after a prompt taken from the
// start of the validation split, and hands them to r.Sample.
func (r *Run) sample(ctx context.Context, m Model, step int) (string, error) {
	if r.Sample == nil || r.Config.SampleTokens == 0 {
		return "", nil
	}
	n := min(16, len(r.Valid.Tokens))
	prompt := r.Valid.Tokens[:n]
	for i := 1; i < n; i++ { // stay inside the first document
		if r.Valid.Start[i] {
			prompt = prompt[:i]
			break
		}
	}
	s := backbone.Sampling{Temperature: 1, TopP: 0.95, Seed: r.Config.Seed + uint64(step), Vocab: r.VocabSize, Stop: r.StopTokens, DocEnds: r.StopTokens}
	out, err := Generate(m, prompt, r.Config.SampleTokens, s, func(int32) error { return ctx.Err() })
	if err != nil {
		return "", err
	}
	dir := filepath.Join(r.Dir, "samples")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return r.Sample(ctx, out, len(prompt), dir, step)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

type baselineRecord struct {
	Order       int     `yaml:"markov_order"`
	BitsPerUnit float64 `yaml:"bits_per_unit"`
}

func (r *Run) baselineRecord() *baselineRecord {
	if r.Baseline == 0 {
		return nil
	}
	return &baselineRecord{r.BaselineOrder, r.Baseline}
}

// FitBaseline fits Markov models of orders 0..Config.BaselineOrder on the
// training split and keeps the best validation figure in r.Baseline,
// reporting each order on out.
func (r *Run) FitBaseline(ctx context.Context, out io.Writer) error {
	for k := 0; k <= min(r.Config.BaselineOrder, MaxMarkovOrder(r.VocabSize)); k++ {
		e, err := MarkovBaseline(ctx, r.Train, r.Valid, r.VocabSize, k)
		if err != nil {
			return err
		}
		if r.Baseline == 0 || e.BitsPerUnit < r.Baseline {
			r.Baseline, r.BaselineOrder = e.BitsPerUnit, k
		}
	}
	if r.Baseline > 0 {
		fmt.Fprintf(out, "baseline: order-%d Markov model, %.4f bits per %s on the validation split\n", r.BaselineOrder, r.Baseline, r.Modality.Unit)
	}
	return nil
}
