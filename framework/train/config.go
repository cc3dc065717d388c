package train

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/mambakit/mambakit/framework/backbone"
)

// Config is a training run's configuration. It is read from YAML
// (--config), then overridden by flags, and saved resolved in the run
// directory. Zero values mean "the default" (Defaults).
type Config struct {
	// Model size: a preset (tiny, small, base) and optional overrides.
	Preset     string `yaml:"preset" json:"preset"`
	DModel     int    `yaml:"d_model" json:"d_model"`
	Layers     int    `yaml:"layers" json:"layers"`
	DState     int    `yaml:"d_state" json:"d_state"`
	ConvKernel int    `yaml:"d_conv" json:"d_conv"`
	Expand     int    `yaml:"expand" json:"expand"`
	// NonSelective makes SSM parameters independent of the input (the
	// paper's selection ablation): any of "delta", "B", "C"; all three is
	// an LTI SSM (S4D-Real). Empty: Mamba (S6).
	NonSelective []string `yaml:"nonselective,flow" json:"nonselective"`
	// Complex makes A, B, C and the state complex (S4D-Lin initialization
	// of A: −½ + iπn).
	Complex bool `yaml:"complex" json:"complex"`
	// AInit is A's initialization: "" (S4D-Real, or S4D-Lin when complex)
	// or "random".
	AInit string `yaml:"a_init" json:"a_init"`
	// InitFrom starts the run from the model of this directory (a
	// checkpoint, a run directory's latest, or a Hugging Face Mamba
	// directory) instead of a new one: the sizes above come from it
	// (AdoptModel), the optimizer and schedule start fresh. Recorded as the
	// checkpoint directory it resolved to.
	InitFrom string `yaml:"init_from,omitempty" json:"init_from,omitempty"`

	Steps int `yaml:"steps" json:"steps"` // optimizer steps in all
	// ScheduleSteps is the horizon of the learning-rate schedule (0: Steps).
	// It is fixed when a run starts, so resuming with a larger --steps
	// continues at min_lr instead of changing the steps already taken.
	ScheduleSteps int     `yaml:"schedule_steps" json:"schedule_steps"`
	SeqLen        int     `yaml:"seq_len" json:"seq_len"` // tokens per sequence
	Batch         int     `yaml:"batch" json:"batch"`     // sequences per micro-batch
	Accum         int     `yaml:"accum" json:"accum"`     // micro-batches per step (gradient accumulation)
	LR            float64 `yaml:"lr" json:"lr"`           // peak learning rate
	MinLR         float64 `yaml:"min_lr" json:"min_lr"`   // learning rate at the end of the cosine
	Warmup        int     `yaml:"warmup" json:"warmup"`   // linear warmup steps
	Beta1         float64 `yaml:"beta1" json:"beta1"`     // AdamW
	Beta2         float64 `yaml:"beta2" json:"beta2"`     // AdamW
	Eps           float64 `yaml:"eps" json:"eps"`         // AdamW
	WeightDec     float64 `yaml:"weight_decay" json:"weight_decay"`
	GradClip      float64 `yaml:"grad_clip" json:"grad_clip"` // global L2 norm
	Seed          uint64  `yaml:"seed" json:"seed"`
	Threads       int     `yaml:"threads" json:"threads"` // 0: all cores
	// BLAS is the CPU's matrix-multiply back end: auto, go, openblas or
	// gonum ("": the current one, $MAMBAKIT_BLAS by default). It is not
	// recorded: a run may resume on a machine without OpenBLAS.
	BLAS string `yaml:"-" json:"-"`

	// TBPTT trains each batch row as a stream through the data, carrying
	// the recurrent state from one step to the next (truncated
	// backpropagation through time); without it, rows are random windows.
	TBPTT bool `yaml:"tbptt" json:"tbptt"`

	EvalEvery    int `yaml:"eval_every" json:"eval_every"`       // steps between evaluations
	EvalTokens   int `yaml:"eval_tokens" json:"eval_tokens"`     // validation tokens per evaluation (0: all)
	SaveEvery    int `yaml:"save_every" json:"save_every"`       // steps between checkpoints
	KeepLast     int `yaml:"keep_last" json:"keep_last"`         // checkpoints kept
	LogEvery     int `yaml:"log_every" json:"log_every"`         // steps between log lines when not on a terminal
	SampleTokens int `yaml:"sample_tokens" json:"sample_tokens"` // tokens generated for the sample at each evaluation (0: none)

	ValidFraction float64 `yaml:"valid_fraction" json:"valid_fraction"` // share of documents held out

	// BaselineOrder is the largest order of the Markov baselines fitted at
	// the start of a run (orders 0..BaselineOrder; -1: none).
	BaselineOrder int `yaml:"baseline_order" json:"baseline_order"`
}

// Presets are the model sizes selectable with --preset (train and
// bench train): three small ones for the CPU, and the paper's four
// sizes (Gu and Dao, Table 12; 130M to 1.4B parameters with the GPT-2
// vocabulary of 50280, fewer with a modality's own).
var Presets = map[string]Config{
	"tiny":       {DModel: 64, Layers: 2, DState: 16},
	"small":      {DModel: 128, Layers: 4, DState: 16},
	"base":       {DModel: 256, Layers: 8, DState: 16},
	"mamba-130m": {DModel: 768, Layers: 24, DState: 16},
	"mamba-370m": {DModel: 1024, Layers: 48, DState: 16},
	"mamba-790m": {DModel: 1536, Layers: 48, DState: 16},
	"mamba-1.4b": {DModel: 2048, Layers: 48, DState: 16},
}

// PresetNames lists the presets, smallest first.
func PresetNames() []string {
	names := slices.Collect(maps.Keys(Presets))
	slices.SortFunc(names, func(a, b string) int {
		pa, pb := Presets[a], Presets[b]
		return cmp.Or(cmp.Compare(pa.DModel*pa.DModel*pa.Layers, pb.DModel*pb.DModel*pb.Layers), cmp.Compare(a, b))
	})
	return names
}

// Defaults returns the defaults: the small preset, AdamW β 0.9/0.95, weight
// decay 0.1, clipping at 1, lr 2e-3 with 10% warmup and a cosine to 10%.
func Defaults() Config {
	return Config{
		Preset: "small", ConvKernel: 4, Expand: 2,
		Steps: 1000, SeqLen: 256, Batch: 8, Accum: 1,
		LR: 2e-3, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDec: 0.1, GradClip: 1, Seed: 1,
		EvalEvery: 100, EvalTokens: 65536, SaveEvery: 100, KeepLast: 3, LogEvery: 10, SampleTokens: 256,
		ValidFraction: 0.1, BaselineOrder: 4,
	}
}

// ReadConfig reads a YAML configuration file over the defaults. Unknown
// keys are errors, so a typo does not silently fall back to a default. A
// run's own config.yaml is a configuration too: what it records beside
// the settings (modality, prepare_options, vocab_size, baseline, mambakit)
// is accepted and ignored.
func ReadConfig(path string) (Config, error) {
	rec := runRecord{Config: Defaults()}
	b, err := os.ReadFile(path)
	if err != nil {
		return rec.Config, fmt.Errorf("read config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&rec); err != nil && !errors.Is(err, io.EOF) { // io.EOF: an empty file
		return rec.Config, fmt.Errorf("%s: %w", path, err)
	}
	return rec.Config, nil
}

// Resumable names the settings (config.yaml keys) a resumed run may
// change: when it stops, how often it evaluates, saves, logs and samples,
// and how many threads it uses. Every other setting shapes the model, the
// data order or the optimizer's path, and stays the run's.
var Resumable = []string{"steps", "eval_every", "eval_tokens", "save_every", "keep_last", "log_every", "sample_tokens", "threads"}

// resumeWith returns c with the Resumable settings of o that are set
// (non-zero), and o's BLAS (never recorded).
func (c Config) resumeWith(o Config) Config {
	for _, p := range []struct{ dst, src *int }{
		{&c.Steps, &o.Steps}, {&c.EvalEvery, &o.EvalEvery}, {&c.EvalTokens, &o.EvalTokens}, {&c.SaveEvery, &o.SaveEvery},
		{&c.KeepLast, &o.KeepLast}, {&c.LogEvery, &o.LogEvery}, {&c.SampleTokens, &o.SampleTokens}, {&c.Threads, &o.Threads},
	} {
		if *p.src != 0 {
			*p.dst = *p.src
		}
	}
	c.BLAS = o.BLAS
	return c
}

// Resolve fills the derived values: the preset's sizes where no override
// was given, the warmup (10% of the steps) and the final learning rate
// (10% of the peak). It then validates everything.
func (c *Config) Resolve() error {
	if c.Preset != "" {
		p, ok := Presets[c.Preset]
		if !ok {
			return fmt.Errorf("preset %q: want %s", c.Preset, strings.Join(PresetNames(), ", "))
		}
		if c.DModel == 0 {
			c.DModel = p.DModel
		}
		if c.Layers == 0 {
			c.Layers = p.Layers
		}
		if c.DState == 0 {
			c.DState = p.DState
		}
	}
	if c.ScheduleSteps == 0 {
		c.ScheduleSteps = c.Steps
	}
	if c.Warmup == 0 {
		c.Warmup = c.ScheduleSteps / 10
	}
	if c.MinLR == 0 {
		c.MinLR = c.LR / 10
	}
	pos := []struct {
		name string
		v    int
	}{{"d_model", c.DModel}, {"layers", c.Layers}, {"d_state", c.DState}, {"d_conv", c.ConvKernel}, {"expand", c.Expand},
		{"steps", c.Steps}, {"seq_len", c.SeqLen}, {"batch", c.Batch}, {"accum", c.Accum},
		{"eval_every", c.EvalEvery}, {"save_every", c.SaveEvery}, {"keep_last", c.KeepLast}, {"log_every", c.LogEvery}}
	for _, p := range pos {
		if p.v < 1 {
			return fmt.Errorf("%s = %d: want ≥ 1", p.name, p.v)
		}
	}
	if c.ScheduleSteps < 1 {
		return fmt.Errorf("schedule_steps = %d: want ≥ 1", c.ScheduleSteps)
	}
	if c.Warmup < 0 || c.Warmup > c.ScheduleSteps {
		return fmt.Errorf("warmup = %d: want 0..schedule_steps (%d)", c.Warmup, c.ScheduleSteps)
	}
	if c.EvalTokens < 0 || c.SampleTokens < 0 || c.Threads < 0 {
		return errors.New("eval_tokens, sample_tokens and threads must not be negative")
	}
	for _, f := range []struct {
		name      string
		v, lo, hi float64
	}{{"lr", c.LR, 0, 10}, {"min_lr", c.MinLR, 0, c.LR}, {"beta1", c.Beta1, 0, 1}, {"beta2", c.Beta2, 0, 1},
		{"eps", c.Eps, 0, 1}, {"weight_decay", c.WeightDec, 0, 10}, {"grad_clip", c.GradClip, 0, math.Inf(1)},
		{"valid_fraction", c.ValidFraction, 0, 1}} {
		if !(f.v >= f.lo && f.v <= f.hi) || (f.name == "lr" && f.v == 0) || (f.name == "valid_fraction" && (f.v == 0 || f.v == 1)) {
			return fmt.Errorf("%s = %v: out of range", f.name, f.v)
		}
	}
	return nil
}

// InitFromDir sets c up to start from the model in dir (a checkpoint, a
// run directory or a model directory): InitFrom becomes the absolute path
// of the checkpoint or model directory, and the sizes the model's
// (AdoptModel). It returns what dir records about the model's run.
func (c *Config) InitFromDir(dir string) (RunInfo, error) {
	info, err := ReadRunInfo(dir)
	if err != nil {
		return info, fmt.Errorf("init_from: %w", err)
	}
	mc, err := backbone.ReadConfig(filepath.Join(info.Checkpoint, "config.json"))
	if err != nil {
		return info, fmt.Errorf("init_from: %w", err)
	}
	abs, err := filepath.Abs(info.Checkpoint)
	if err != nil {
		return info, fmt.Errorf("init_from: %w", err)
	}
	return info, c.AdoptModel(abs, &mc)
}

// AdoptModel makes c describe the model of config mc found in dir, for a
// run that starts from it: the preset is dropped and the sizes, the SSM
// variant and A's initialization become the model's. A size set to
// something other than both its default and the model's value (in the
// configuration file or a flag) is refused, naming it, rather than
// silently dropped.
func (c *Config) AdoptModel(dir string, mc *backbone.Config) error {
	d := Defaults()
	var bad []string
	if c.Preset != "" && c.Preset != d.Preset {
		if p, ok := Presets[c.Preset]; !ok || p.DModel != mc.HiddenSize || p.Layers != mc.NumHiddenLayers || p.DState != mc.StateSize {
			bad = append(bad, fmt.Sprintf("preset %s", c.Preset))
		}
	}
	for _, f := range []struct {
		name            string
		v, def, inModel int
	}{
		{"d_model", c.DModel, 0, mc.HiddenSize}, {"layers", c.Layers, 0, mc.NumHiddenLayers}, {"d_state", c.DState, 0, mc.StateSize},
		{"d_conv", c.ConvKernel, d.ConvKernel, mc.ConvKernel}, {"expand", c.Expand, d.Expand, mc.Expand},
	} {
		if f.v != f.def && f.v != f.inModel {
			bad = append(bad, fmt.Sprintf("%s %d (the model's: %d)", f.name, f.v, f.inModel))
		}
	}
	if c.Complex && !mc.ComplexA {
		bad = append(bad, "complex (the model is real)")
	}
	if len(c.NonSelective) > 0 && !slices.Equal(c.NonSelective, mc.NonSelective) {
		bad = append(bad, fmt.Sprintf("nonselective %v (the model's: %v)", c.NonSelective, mc.NonSelective))
	}
	if len(bad) > 0 {
		return fmt.Errorf("init_from %s: %s: the model's sizes come from its config.json; leave them out", dir, strings.Join(bad, ", "))
	}
	c.Preset = ""
	c.DModel, c.Layers, c.DState = mc.HiddenSize, mc.NumHiddenLayers, mc.StateSize
	c.ConvKernel, c.Expand = mc.ConvKernel, mc.Expand
	c.Complex, c.NonSelective, c.AInit = mc.ComplexA, slices.Clone(mc.NonSelective), mc.AInit
	c.InitFrom = dir
	return nil
}

// checkModel reports whether c's sizes are those of the model mc.
func (c *Config) checkModel(mc *backbone.Config) error {
	if c.DModel != mc.HiddenSize || c.Layers != mc.NumHiddenLayers || c.DState != mc.StateSize || c.ConvKernel != mc.ConvKernel ||
		c.Expand != mc.Expand || c.Complex != mc.ComplexA || !slices.Equal(c.NonSelective, mc.NonSelective) {
		return fmt.Errorf("the configuration (d_model %d, layers %d, d_state %d, d_conv %d, expand %d) is not the model's (%d, %d, %d, %d, %d)",
			c.DModel, c.Layers, c.DState, c.ConvKernel, c.Expand, mc.HiddenSize, mc.NumHiddenLayers, mc.StateSize, mc.ConvKernel, mc.Expand)
	}
	return nil
}

// LRAt is the learning rate of step s (1-based): linear warmup from 0 over
// Warmup steps, then a cosine from LR down to MinLR at step ScheduleSteps,
// and MinLR after it.
func (c *Config) LRAt(s int) float64 {
	if s <= c.Warmup {
		return c.LR * float64(s) / float64(c.Warmup)
	}
	span := c.ScheduleSteps - c.Warmup
	if span <= 0 {
		return c.LR
	}
	p := min(float64(s-c.Warmup)/float64(span), 1)
	return c.MinLR + 0.5*(c.LR-c.MinLR)*(1+math.Cos(math.Pi*p))
}
