package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/mambakit/mambakit/framework/bench"
	"github.com/mambakit/mambakit/framework/train"
)

func runBench(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("want a benchmark: bench train | bench scan | bench gemm | bench generate (docs/cli.md)")
	}
	switch args[0] {
	case "train":
		return benchTrain(args[1:], stdout)
	case "scan":
		return benchScan(args[1:], stdout)
	case "generate":
		return benchGenerate(args[1:], stdout)
	case "gemm":
		return benchGemm(args[1:], stdout)
	}
	return fmt.Errorf("unknown benchmark %q: want train, scan, gemm or generate", args[0])
}

func benchTrain(args []string, stdout io.Writer) error {
	var o bench.TrainOptions
	fs, err := parseBench("train", args, stdout, func(fs *flag.FlagSet, dev train.Device) *train.Device {
		o = bench.DefaultTrain(dev)
		addDeviceFlag(fs, &o.Device, "where the steps run")
		fs.IntVar(&o.DModel, "d-model", o.DModel, "model width")
		fs.IntVar(&o.Layers, "layers", o.Layers, "number of blocks")
		fs.IntVar(&o.DState, "d-state", o.DState, "SSM state size N")
		fs.IntVar(&o.Vocab, "vocab", o.Vocab, "vocabulary size (padded to a multiple of 8)")
		fs.IntVar(&o.Batch, "batch", o.Batch, "sequences per step")
		fs.IntVar(&o.SeqLen, "seq-len", o.SeqLen, "tokens per sequence")
		fs.IntVar(&o.Steps, "steps", o.Steps, "timed training steps (after the untimed warm-up)")
		fs.Uint64Var(&o.Seed, "seed", o.Seed, "seed of the model and the tokens")
		fs.BoolVar(&o.Complex, "complex", o.Complex, "complex A, B, C and states (S4D-Lin), as train --complex")
		fs.Func("nonselective", "SSM parameters that do not depend on the input, as train --nonselective (delta,B,C: LTI)", func(v string) error {
			o.NonSelective = strings.Split(v, ",")
			return nil
		})
		if dev == train.CUDA {
			fs.IntVar(&o.Warmup, "warmup", o.Warmup, "untimed steps first (compile kernels, allocate activations)")
			fs.BoolVar(&o.TF32, "tf32", o.TF32, "TF32 tensor cores for the projections (cuBLAS)")
		} else {
			fs.IntVar(&o.Threads, "threads", o.Threads, "threads (0: all cores)")
			fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the timed steps to this file (go tool pprof)")
			addBLASFlag(fs, &o.BLAS)
		}
		return &o.Device
	})
	if err != nil {
		return err
	}
	if err := positiveFlags(fs, "d-model", "layers", "d-state", "vocab", "batch", "seq-len", "steps"); err != nil {
		return err
	}
	return bench.Train(o, stdout)
}

func benchScan(args []string, stdout io.Writer) error {
	var o bench.ScanOptions
	var seqLens string
	fs, err := parseBench("scan", args, stdout, func(fs *flag.FlagSet, dev train.Device) *train.Device {
		o = bench.DefaultScan(dev)
		addDeviceFlag(fs, &o.Device, "where the scan runs")
		fs.IntVar(&o.B, "batch", o.B, "batch size B")
		fs.IntVar(&o.D, "d-inner", o.D, "channels D (d_inner)")
		fs.IntVar(&o.N, "d-state", o.N, "state size N")
		fs.IntVar(&o.Reps, "reps", o.Reps, "timed repetitions of each pass (median reported)")
		if dev == train.CUDA {
			seqLens = strings.Trim(strings.Join(strings.Fields(fmt.Sprint(o.SeqLens)), ","), "[]")
			fs.StringVar(&seqLens, "seq-len", seqLens, "comma list of sequence lengths L")
			fs.IntVar(&o.Warmup, "warmup", o.Warmup, "untimed runs first")
			fs.BoolVar(&o.GEMM, "gemm", o.GEMM, "also time cuBLAS sgemm 8192³ in fp32 and TF32")
		} else {
			fs.IntVar(&o.SeqLens[0], "seq-len", o.SeqLens[0], "sequence length L")
			fs.BoolVar(&o.NoRef, "no-ref", o.NoRef, "skip the reference (it allocates 4 tensors of B·L·D·N)")
			fs.IntVar(&o.Threads, "threads", o.Threads, "threads (0: all cores)")
			fs.StringVar(&o.PerChannel, "per-channel", "", "non-selective B and/or C of shape (d-inner, d-state): b, c or bc (default: both selective)")
		}
		return &o.Device
	})
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
		return fmt.Errorf("bench scan: --per-channel %q: want b, c or bc", p)
	}
	return bench.Scan(o, stdout)
}

func benchGenerate(args []string, stdout io.Writer) error {
	var o bench.GenerateOptions
	var variants string
	fs, err := parseBench("generate", args, stdout, func(fs *flag.FlagSet, dev train.Device) *train.Device {
		o = bench.DefaultGenerate(dev)
		addDeviceFlag(fs, &o.Device, "where the steps run")
		fs.IntVar(&o.DModel, "d-model", o.DModel, "model width")
		fs.IntVar(&o.Layers, "layers", o.Layers, "number of blocks")
		fs.IntVar(&o.DState, "d-state", o.DState, "SSM state size N")
		fs.IntVar(&o.Vocab, "vocab", o.Vocab, "vocabulary size")
		fs.IntVar(&o.Tokens, "tokens", o.Tokens, "tokens to generate")
		if dev == train.CUDA {
			fs.IntVar(&o.Reps, "reps", o.Reps, "back-to-back steps timed with device events")
			fs.Uint64Var(&o.Seed, "seed", o.Seed, "seed of the model")
			fs.StringVar(&variants, "variants", "default", "default: the default kernels, plain and graph; all: also the earlier forms of the step kernels")
		} else {
			fs.IntVar(&o.Threads, "threads", o.Threads, "threads (0: all cores)")
			addBLASFlag(fs, &o.BLAS)
		}
		return &o.Device
	})
	if err != nil {
		return err
	}
	if err := positiveFlags(fs, "d-model", "layers", "d-state", "vocab", "tokens"); err != nil {
		return err
	}
	if o.Device == train.CUDA {
		if err := positiveFlags(fs, "reps"); err != nil {
			return err
		}
		if variants != "default" && variants != "all" {
			return fmt.Errorf("--variants %q: want default or all", variants)
		}
		o.AllVariants = variants == "all"
	}
	return bench.Generate(o, stdout)
}

func benchGemm(args []string, stdout io.Writer) error {
	o := bench.DefaultGemm()
	blas, threads := "all", "1,2"
	fs := flag.NewFlagSet("bench gemm", flag.ContinueOnError)
	fs.SetOutput(stdout)
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
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.Stat != "median" && o.Stat != "best" {
		return fmt.Errorf("--stat %q: want median or best", o.Stat)
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
	if o.Step && !isSet(fs, "batch") {
		o.Batch = 1
	}
	return bench.Gemm(o, stdout)
}

// parseBench parses a bench command's arguments. Its flags and their
// defaults depend on --device (a GPU benchmark has its own knobs and a
// bigger model), so register adds them for a device and returns where
// --device goes: a first, silent pass, in which every flag of either
// device accepts any value, learns the device; the second parses the
// arguments with that device's flags.
func parseBench(name string, args []string, stdout io.Writer, register func(fs *flag.FlagSet, dev train.Device) *train.Device) (*flag.FlagSet, error) {
	probe := flag.NewFlagSet(name, flag.ContinueOnError)
	probe.SetOutput(io.Discard)
	var dev *train.Device
	for _, d := range train.Devices {
		fs := flag.NewFlagSet(name, flag.ContinueOnError)
		dev = register(fs, d)
		fs.VisitAll(func(f *flag.Flag) {
			switch {
			case probe.Lookup(f.Name) != nil:
			case f.Name == "device":
				probe.Var(f.Value, f.Name, "")
			default:
				b, ok := f.Value.(interface{ IsBoolFlag() bool })
				probe.Var(anyValue(ok && b.IsBoolFlag()), f.Name, "")
			}
		})
	}
	probe.Parse(args) // its errors come again from the parse below
	want := *dev
	fs := flag.NewFlagSet("bench "+name, flag.ContinueOnError)
	if want == train.CUDA {
		fs = flag.NewFlagSet("bench "+name+" --device cuda", flag.ContinueOnError)
	}
	fs.SetOutput(stdout)
	register(fs, want)
	if err := fs.Parse(args); err != nil {
		return fs, err
	}
	if f := fs.Lookup("threads"); f != nil { // the CPU's
		return fs, checkThreads(f.Value.(flag.Getter).Get().(int))
	}
	return fs, nil
}

// anyValue is a flag of parseBench's first pass: it takes any value (a
// bool flag: none).
type anyValue bool

func (anyValue) String() string     { return "" }
func (anyValue) Set(string) error   { return nil }
func (b anyValue) IsBoolFlag() bool { return bool(b) }
