package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mambakit/mambakit/framework/bench"
	"github.com/mambakit/mambakit/framework/train"
)

func newBenchCmd(x *invocation) *cobra.Command {
	c := &cobra.Command{
		Use:   "bench",
		Short: "measure training, scan, matrix-multiply and generation speed, and the CPU's ceiling (bench train | scan | gemm | generate | peak)",
		Args:  cobra.ArbitraryArgs,
		RunE:  groupRunE("train, scan, gemm, generate or peak (docs/cli.md)"),
	}
	c.AddCommand(
		newDeviceBenchCmd(x, "train", "time training steps of a model of the given shape",
			benchTrainFlags(new(bench.TrainOptions), new(string)), benchTrain),
		newDeviceBenchCmd(x, "scan", "time the selective scan, forward and backward",
			benchScanFlags(new(bench.ScanOptions), new(string)), benchScan),
		newDeviceBenchCmd(x, "generate", "time the one-token recurrent step",
			benchGenerateFlags(new(bench.GenerateOptions), new(string)), benchGenerate),
		newBenchGemmCmd(x),
		newBenchPeakCmd(x),
	)
	return c
}

// benchTrainFlags registers bench train's flags; --preset goes to preset.
func benchTrainFlags(o *bench.TrainOptions, preset *string) benchRegister {
	return func(fs *pflag.FlagSet, dev train.Device) *train.Device {
		*o = bench.DefaultTrain(dev)
		addDeviceFlag(fs, &o.Device, "where the steps run")
		fs.IntVar(&o.DModel, "d-model", o.DModel, "model width")
		fs.IntVar(&o.Layers, "layers", o.Layers, "number of blocks")
		fs.IntVar(&o.DState, "d-state", o.DState, "SSM state size N")
		fs.IntVar(&o.Vocab, "vocab", o.Vocab, "vocabulary size (padded to a multiple of 8)")
		fs.IntVar(&o.Batch, "batch", o.Batch, "sequences per step")
		fs.IntVar(&o.SeqLen, "seq-len", o.SeqLen, "tokens per sequence")
		fs.IntVar(&o.Steps, "steps", o.Steps, "timed training steps (after the untimed warm-up)")
		fs.IntVar(&o.Accum, "accum", 1, "micro-batches per step (gradient accumulation, as train --accum): a step is --accum forward and backward passes of --batch sequences, then one clip and AdamW step")
		fs.Uint64Var(&o.Seed, "seed", o.Seed, "seed of the model and the tokens")
		fs.BoolVar(&o.Complex, "complex", o.Complex, "complex A, B, C and states (S4D-Lin), as train --complex")
		addNonSelectiveFlag(fs, &o.NonSelective, "SSM parameters that do not depend on the input, as train --nonselective (delta,B,C: LTI)")
		fs.BoolVar(&o.Recompute, "recompute", false, "keep one block's activations and run the others' forward again in the backward pass: far less memory, one more forward of each block (docs/training.md)")
		if dev == train.CUDA {
			fs.IntVar(&o.Warmup, "warmup", o.Warmup, "untimed steps first (compile kernels, allocate activations)")
			fs.BoolVar(&o.TF32, "tf32", o.TF32, "TF32 tensor cores for the projections (cuBLAS): --precision tf32")
			addPrecisionFlag(fs, &o.Precision)
			fs.BoolVar(&o.Ops, "ops", false, "time each kind of operation with CUDA events and print where forward and backward go (adds a little host time to each launch)")
		} else {
			fs.IntVar(&o.Threads, "threads", o.Threads, "threads (0: all cores)")
			fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the timed steps to this file (go tool pprof)")
			addBLASFlag(fs, &o.BLAS)
			addPrecisionFlag(fs, &o.Precision)
		}
		fs.StringVar(preset, "preset", "", "model size (d-model, layers, d-state) from train's presets: "+strings.Join(train.PresetNames(), ", ")+"; --d-model, --layers, --d-state override it")
		return &o.Device
	}
}

func benchTrain(args []string, stdout io.Writer) error {
	var o bench.TrainOptions
	var preset string
	fs, err := parseBench(args, benchTrainFlags(&o, &preset))
	if err != nil {
		return err
	}
	if err := positiveFlags(fs, "d-model", "layers", "d-state", "vocab", "batch", "seq-len", "steps", "accum"); err != nil {
		return err
	}
	if err := checkPlacement(train.Placement{Device: o.Device, TF32: o.TF32, Precision: o.Precision, Recompute: o.Recompute}); err != nil {
		return err
	}
	if preset != "" {
		p, ok := train.Presets[preset]
		if !ok {
			return usagef("--preset %q: want %s", preset, strings.Join(train.PresetNames(), ", "))
		}
		if !fs.Changed("d-model") {
			o.DModel = p.DModel
		}
		if !fs.Changed("layers") {
			o.Layers = p.Layers
		}
		if !fs.Changed("d-state") {
			o.DState = p.DState
		}
	}
	return bench.Train(o, stdout)
}

// benchScanFlags registers bench scan's flags; on cuda --seq-len is a
// comma list, kept in seqLens.
func benchScanFlags(o *bench.ScanOptions, seqLens *string) benchRegister {
	return func(fs *pflag.FlagSet, dev train.Device) *train.Device {
		*o = bench.DefaultScan(dev)
		addDeviceFlag(fs, &o.Device, "where the scan runs")
		fs.IntVar(&o.B, "batch", o.B, "batch size B")
		fs.IntVar(&o.D, "d-inner", o.D, "channels D (d_inner)")
		fs.IntVar(&o.N, "d-state", o.N, "state size N")
		fs.IntVar(&o.Reps, "reps", o.Reps, "timed repetitions of each pass (median reported)")
		if dev == train.CUDA {
			*seqLens = strings.Trim(strings.Join(strings.Fields(fmt.Sprint(o.SeqLens)), ","), "[]")
			fs.StringVar(seqLens, "seq-len", *seqLens, "comma list of sequence lengths L")
			fs.IntVar(&o.Warmup, "warmup", o.Warmup, "untimed runs first")
			fs.BoolVar(&o.GEMM, "gemm", o.GEMM, "also time cuBLAS 8192³ in fp32, TF32 and bf16")
			fs.StringVar(&o.Inputs, "inputs", "fp32", "u, Δ and z of the scan in fp32, or bf16 (bfloat16, as a bf16 model keeps them; the scan runs in fp32)")
		} else {
			fs.IntVar(&o.SeqLens[0], "seq-len", o.SeqLens[0], "sequence length L")
			fs.BoolVar(&o.NoRef, "no-ref", o.NoRef, "skip the reference (it allocates 4 tensors of B·L·D·N)")
			fs.IntVar(&o.Threads, "threads", o.Threads, "threads (0: all cores)")
			fs.StringVar(&o.PerChannel, "per-channel", "", "non-selective B and/or C of shape (d-inner, d-state): b, c or bc (default: both selective)")
		}
		return &o.Device
	}
}

func benchScan(args []string, stdout io.Writer) error {
	var o bench.ScanOptions
	var seqLens string
	fs, err := parseBench(args, benchScanFlags(&o, &seqLens))
	if err != nil {
		return err
	}
	if o.Device == train.CUDA {
		if err := positiveFlags(fs, "batch", "d-inner", "d-state", "reps"); err != nil {
			return err
		}
		if o.SeqLens, err = positiveList("seq-len", seqLens); err != nil {
			return err
		}
	} else if err := positiveFlags(fs, "batch", "seq-len", "d-inner", "d-state", "reps"); err != nil {
		return err
	}
	if p := o.PerChannel; p != "" && p != "b" && p != "c" && p != "bc" {
		return usagef("--per-channel %q: want b, c or bc", p)
	}
	if o.Inputs != "" && o.Inputs != "fp32" && o.Inputs != "bf16" {
		return usagef("--inputs %q: want fp32 or bf16", o.Inputs)
	}
	return bench.Scan(o, stdout)
}

func benchGenerateFlags(o *bench.GenerateOptions, variants *string) benchRegister {
	return func(fs *pflag.FlagSet, dev train.Device) *train.Device {
		*o = bench.DefaultGenerate(dev)
		addDeviceFlag(fs, &o.Device, "where the steps run")
		fs.IntVar(&o.DModel, "d-model", o.DModel, "model width")
		fs.IntVar(&o.Layers, "layers", o.Layers, "number of blocks")
		fs.IntVar(&o.DState, "d-state", o.DState, "SSM state size N")
		fs.IntVar(&o.Vocab, "vocab", o.Vocab, "vocabulary size")
		fs.IntVar(&o.Tokens, "tokens", o.Tokens, "tokens to generate (at batch 1; in all, at least 8 steps, at a larger batch)")
		fs.IntSliceVar(&o.Batches, "batch", o.Batches, "rows a step, comma-separated (1,8,64,256)")
		if dev == train.CUDA {
			fs.IntVar(&o.Reps, "reps", o.Reps, "back-to-back steps timed with device events")
			fs.Uint64Var(&o.Seed, "seed", o.Seed, "seed of the model")
			fs.StringVar(variants, "variants", "default", "default: the default kernels, plain and graph; all: also the earlier forms of the step kernels")
			fs.BoolVar(&o.Ops, "ops", false, "time each kind of operation of a step of each batch with CUDA events (a step without a graph) and print where it goes")
			addPrecisionFlag(fs, &o.Precision)
		} else {
			fs.IntVar(&o.Threads, "threads", o.Threads, "threads (0: all cores)")
			addBLASFlag(fs, &o.BLAS)
			addPrecisionFlag(fs, &o.Precision)
		}
		return &o.Device
	}
}

func benchGenerate(args []string, stdout io.Writer) error {
	var o bench.GenerateOptions
	var variants string
	fs, err := parseBench(args, benchGenerateFlags(&o, &variants))
	if err != nil {
		return err
	}
	if err := positiveFlags(fs, "d-model", "layers", "d-state", "vocab", "tokens"); err != nil {
		return err
	}
	for _, B := range o.Batches {
		if B < 1 || B > bench.MaxBatch {
			return usagef("--batch %d: want 1..%d rows", B, bench.MaxBatch)
		}
	}
	if o.Device == train.CUDA {
		if err := positiveFlags(fs, "reps"); err != nil {
			return err
		}
		if variants != "default" && variants != "all" {
			return usagef("--variants %q: want default or all", variants)
		}
		o.AllVariants = variants == "all"
	}
	if err := checkPlacement(train.Placement{Device: o.Device, Precision: o.Precision}); err != nil {
		return err
	}
	return bench.Generate(o, stdout)
}

func newBenchGemmCmd(x *invocation) *cobra.Command {
	o := bench.DefaultGemm()
	blas, threads := "all", "1,2"
	c := &cobra.Command{
		Use:   "gemm [flags]",
		Short: "time the matrix-multiply backends on the model's product shapes",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return benchGemm(c.Flags(), &o, blas, threads, x.stdout)
		},
	}
	fs := c.Flags()
	fs.IntVar(&o.DModel, "d-model", o.DModel, "model width D (Din = 2·D)")
	fs.IntVar(&o.DState, "d-state", o.DState, "SSM state size N")
	fs.IntVar(&o.Vocab, "vocab", o.Vocab, "vocabulary size V")
	fs.IntVar(&o.Batch, "batch", o.Batch, "sequences per step")
	fs.IntVar(&o.SeqLen, "seq-len", o.SeqLen, "tokens per sequence (M = batch·seq-len)")
	fs.StringVar(&blas, "blas", blas, "backends: all, or a comma list of auto, go, openblas, gonum")
	fs.StringVar(&threads, "threads", threads, "comma list of thread counts")
	fs.IntVar(&o.Rounds, "rounds", o.Rounds, "rounds; each times every backend once per shape and thread count")
	fs.DurationVar(&o.MinTime, "min-time", o.MinTime, "least time per measurement (repeats the product)")
	fs.StringVar(&o.Shapes, "shapes", "", "run only shapes whose label contains this (e.g. NT, 4096x256x128)")
	fs.StringVar(&o.Stat, "stat", o.Stat, "median or best of the rounds")
	fs.BoolVar(&o.Step, "step", false, "the one-token Step products instead: M = --batch rows (default 1) times each weight, NT only, weights from DRAM")
	return c
}

func benchGemm(fs *pflag.FlagSet, o *bench.GemmOptions, blas, threads string, stdout io.Writer) error {
	if o.Stat != "median" && o.Stat != "best" {
		return usagef("--stat %q: want median or best", o.Stat)
	}
	if err := positiveFlags(fs, "d-model", "d-state", "vocab", "batch", "seq-len", "rounds"); err != nil {
		return err
	}
	var err error
	if o.Threads, err = positiveList("threads", threads); err != nil {
		return err
	}
	if blas != "all" {
		o.BLAS = strings.Split(blas, ",")
	}
	if o.Step && !fs.Changed("batch") {
		o.Batch = 1
	}
	return bench.Gemm(*o, stdout)
}

func newBenchPeakCmd(x *invocation) *cobra.Command {
	o := bench.DefaultPeak()
	loops, threads := "all", "1,2"
	c := &cobra.Command{
		Use:   "peak [flags]",
		Short: "time the CPU's compute ceiling: fp32 FMA and bf16 dot-product loops in registers, per thread count",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return benchPeak(c.Flags(), &o, loops, threads, x.stdout)
		},
	}
	fs := c.Flags()
	fs.StringVar(&loops, "loops", loops, "all, or a comma list of "+strings.Join(bench.PeakLoops(), ", "))
	fs.StringVar(&threads, "threads", threads, "comma list of thread counts (each thread locked to its own OS thread)")
	fs.IntVar(&o.Rounds, "rounds", o.Rounds, "timed runs of each loop and thread count (best and median reported)")
	fs.DurationVar(&o.MinTime, "min-time", o.MinTime, "least time per run")
	return c
}

func benchPeak(fs *pflag.FlagSet, o *bench.PeakOptions, loops, threads string, stdout io.Writer) error {
	if err := positiveFlags(fs, "rounds"); err != nil {
		return err
	}
	if o.MinTime <= 0 {
		return usagef("--min-time %v: want > 0", o.MinTime)
	}
	var err error
	if o.Threads, err = positiveList("threads", threads); err != nil {
		return err
	}
	if loops != "all" {
		o.Kernels = strings.Split(loops, ",")
		for _, l := range o.Kernels {
			if !slices.Contains(bench.PeakLoops(), l) {
				return usagef("--loops: no loop %q (want all or %s)", l, strings.Join(bench.PeakLoops(), ", "))
			}
		}
	}
	return bench.Peak(*o, stdout)
}

// A benchmark's flags and their defaults depend on --device (a GPU
// benchmark has its own knobs and a bigger model). Its cobra command
// therefore holds stand-ins: every flag of either device, each taking any
// value, so that --help lists them all and cobra learns --device; RunE then
// parses the arguments again with that device's real flags (parseBench).

// benchRun is one benchmark: it parses args with parseBench and runs.
type benchRun func(args []string, stdout io.Writer) error

// benchRegister adds a benchmark's flags for dev to fs over fresh options
// and returns where --device goes.
type benchRegister func(fs *pflag.FlagSet, dev train.Device) *train.Device

// newDeviceBenchCmd is the command of a benchmark whose flags depend on
// the device: register adds them (over throwaway options) for --help and
// completion; run parses and runs.
func newDeviceBenchCmd(x *invocation, name, short string, register benchRegister, run benchRun) *cobra.Command {
	c := &cobra.Command{
		Use:   name + " [flags]",
		Short: short,
		Long:  short + ".\nWith --device cuda the defaults are a GPU-size model's, and flags marked (cuda) apply; docs/benchmarks.md.",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return run(benchArgs(x.args, name), x.stdout)
		},
	}
	seen := map[string][]train.Device{}
	var order []*pflag.Flag
	for _, d := range train.Devices {
		fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
		register(fs, d)
		fs.SortFlags = false
		fs.VisitAll(func(f *pflag.Flag) {
			if seen[f.Name] == nil {
				order = append(order, f)
			}
			seen[f.Name] = append(seen[f.Name], d)
		})
	}
	for _, f := range order {
		usage := f.Usage
		if devs := seen[f.Name]; len(devs) < len(train.Devices) {
			usage += " (" + string(devs[0]) + ")"
		}
		if f.Name == "device" {
			c.Flags().AddFlag(f)
			continue
		}
		c.Flags().AddFlag(&pflag.Flag{Name: f.Name, Usage: usage, DefValue: f.DefValue, NoOptDefVal: f.NoOptDefVal,
			Value: &anyValue{s: f.DefValue, typ: f.Value.Type()}})
	}
	completeDevice(c)
	return c
}

// benchArgs returns the arguments after "bench name".
func benchArgs(args []string, name string) []string {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "bench" && args[i+1] == name {
			return args[i+2:]
		}
	}
	return nil
}

// parseBench parses a benchmark's arguments: a first, silent pass, in
// which every flag of either device accepts any value, learns --device;
// the second parses the arguments with that device's flags.
func parseBench(args []string, register benchRegister) (*pflag.FlagSet, error) {
	probe := pflag.NewFlagSet("probe", pflag.ContinueOnError)
	probe.SetOutput(io.Discard)
	var dev *train.Device
	for _, d := range train.Devices {
		fs := pflag.NewFlagSet("bench", pflag.ContinueOnError)
		dev = register(fs, d)
		fs.VisitAll(func(f *pflag.Flag) {
			switch {
			case probe.Lookup(f.Name) != nil:
			case f.Name == "device":
				probe.AddFlag(f)
			default:
				probe.AddFlag(&pflag.Flag{Name: f.Name, NoOptDefVal: f.NoOptDefVal, Value: &anyValue{typ: f.Value.Type()}})
			}
		})
	}
	probe.Parse(args) // its errors come again from the parse below
	fs := pflag.NewFlagSet("bench", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	register(fs, *dev)
	if err := fs.Parse(args); err != nil {
		if *dev == train.CUDA {
			err = fmt.Errorf("%w (with --device cuda)", err)
		}
		return fs, usageError{err}
	}
	if f := fs.Lookup("threads"); f != nil { // the CPU's
		n, _ := fs.GetInt("threads")
		return fs, checkThreads(n)
	}
	return fs, nil
}

// anyValue stands in for a benchmark flag before the device is known: it
// takes any value.
type anyValue struct{ s, typ string }

func (v *anyValue) String() string     { return v.s }
func (v *anyValue) Set(s string) error { v.s = s; return nil }
func (v *anyValue) Type() string       { return v.typ }
func (v *anyValue) IsBoolFlag() bool   { return v.typ == "bool" }
