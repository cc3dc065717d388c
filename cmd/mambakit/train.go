package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/session"
	"github.com/mambakit/mambakit/framework/train"
	"github.com/mambakit/mambakit/sdk"
)

// trainFlags are train's flags; c holds the training settings.
type trainFlags struct {
	hf       hostFlags
	modality string
	data     []string
	out      string
	cfgFile  string
	resume   string
	opts     optionFlag
	dev      trainDevice
	c        train.Config
}

func newTrainCmd(x *invocation) *cobra.Command {
	f := trainFlags{opts: optionFlag{}, c: train.Defaults()}
	cmd := &cobra.Command{
		Use:   "train --modality M [--data PATH...] [--out RUN_DIR] [--init-from DIR] [flags]  |  train --resume RUN_DIR [--steps N]",
		Short: "train a model on a modality, or resume a run",
		Long: "train prepares the data with the modality's plugin and trains a model (docs/training.md).\n" +
			"--resume continues a run; it takes only the flags that cannot change what was trained:\n" +
			"--steps, --eval-every, --save-every, --threads, --blas, where it runs and how plugins are found.",
		RunE: func(cmd *cobra.Command, args []string) error {
			set := map[string]bool{}
			cmd.Flags().Visit(func(fl *pflag.Flag) { set[fl.Name] = true })
			if len(args) > 0 {
				set["data"] = true
			}
			if f.resume != "" {
				if err := checkResumeFlags(set); err != nil {
					return err
				}
			}
			f.data = append(f.data, args...)
			return runTrain(cmd.Context(), &f, set, x.args[1:], len(args) > 0, x.stdout)
		},
	}
	f.hf.register(cmd)
	c, fs := &f.c, cmd.Flags()
	addModalityFlag(cmd, &f.modality, "the plugin that reads the data (see \"mambakit plugins list\")")
	fs.StringArrayVar(&f.data, "data", nil, "input file or directory (repeatable; further arguments are inputs too); without it, the modality's bundled sample")
	addOutFlag(cmd, &f.out, "run directory (checkpoints, metrics.jsonl, curves.png, samples/); default runs/MODALITY, or runs/MODALITY-N when that holds a run")
	fs.StringVar(&f.cfgFile, "config", "", "YAML file of training settings (docs/training.md), or a run's config.yaml; flags override it")
	fs.StringVar(&f.resume, "resume", "", "continue the run in this directory from its latest checkpoint")
	cmd.MarkFlagDirname("resume")
	fs.StringVar(&c.InitFrom, "init-from", "", "start from the model in this directory (checkpoint, run directory or Hugging Face model directory), with its sizes and tokenizer and a fresh optimizer")
	cmd.MarkFlagDirname("init-from")
	fs.Var(f.opts, "option", "plugin option key=value for prepare (repeatable; see the plugin's docs)")
	fs.StringVar(&c.Preset, "preset", c.Preset, "model size: "+strings.Join(train.PresetNames(), ", "))
	cmd.RegisterFlagCompletionFunc("preset", cobra.FixedCompletions(train.PresetNames(), cobra.ShellCompDirectiveNoFileComp))
	fs.IntVar(&c.Steps, "steps", c.Steps, "optimizer steps (with --resume: the step to continue to)")
	fs.IntVar(&c.SeqLen, "seq-len", c.SeqLen, "tokens per sequence")
	fs.IntVar(&c.Batch, "batch", c.Batch, "sequences per micro-batch")
	fs.IntVar(&c.Accum, "accum", c.Accum, "micro-batches per step (gradient accumulation)")
	fs.Float64Var(&c.LR, "lr", c.LR, "peak learning rate")
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "seed of the model, the data order and the split")
	fs.IntVar(&c.EvalEvery, "eval-every", c.EvalEvery, "steps between evaluations")
	fs.IntVar(&c.SaveEvery, "save-every", c.SaveEvery, "steps between checkpoints")
	fs.IntVar(&c.Threads, "threads", c.Threads, "threads (0: all cores)")
	fs.BoolVar(&c.TBPTT, "tbptt", c.TBPTT, "train rows as streams with the state carried across steps")
	addBLASFlag(fs, &c.BLAS)
	addDeviceFlag(fs, &f.dev.name, "where the training steps run")
	completeDevice(cmd)
	fs.BoolVar(&f.dev.tf32, "tf32", false, "with --device cuda: TF32 tensor cores for the projections")
	addPrecisionFlag(fs, &f.dev.precision)
	completePrecision(cmd)
	fs.BoolVar(&f.dev.recompute, "recompute", false, "keep one block's activations and run the others' forward again in the backward pass (far less memory, about a third more time, the same gradients; docs/training.md)")
	f.dev.job.register(fs)
	fs.BoolVar(&c.Complex, "complex", c.Complex, "complex A, B, C and states (S4D-Lin: A = −½ + iπn)")
	addNonSelectiveFlag(fs, &c.NonSelective, "SSM parameters that do not depend on the input: a comma list of delta, B, C (all three: an LTI SSM)")
	return cmd
}

// placementFlags are the flags train --resume takes besides the settings
// a resumed run may change (train.Resumes): where the run runs, and how
// plugins are found. Any other flag would change what the run has trained
// on or how, and is refused rather than dropped.
var placementFlags = map[string]bool{
	"resume": true, "device": true, "tf32": true, "precision": true, "recompute": true, "gpus": true, "nodes": true, "rank": true, "coordinator": true,
	"lock": true, "verbose": true, "plugin-dir": true, "shadow": true,
}

// checkResumeFlags refuses the flags given with --resume that the run
// cannot change, naming them.
func checkResumeFlags(set map[string]bool) error {
	var bad []string
	for name := range set {
		if !placementFlags[name] && !train.Resumes(strings.ReplaceAll(name, "-", "_")) {
			bad = append(bad, "--"+name)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	slices.Sort(bad)
	return usagef("%s cannot change when resuming a run (only --steps, --eval-every, --save-every, --threads, --blas, the device and the plugin flags can); for other settings start a new run with --config RUN_DIR/config.yaml", strings.Join(bad, ", "))
}

func runTrain(ctx context.Context, f *trainFlags, set map[string]bool, args []string, posData bool, stdout io.Writer) (err error) {
	c, dev, hf, modality, out, data, opts := f.c, f.dev, &f.hf, f.modality, f.out, f.data, f.opts
	if err := dev.job.setup(args, dev.name); err != nil {
		return err
	}
	if err := checkPlacement(train.Placement{Device: dev.name, TF32: dev.tf32, Precision: dev.precision, Recompute: dev.recompute}); err != nil {
		return err
	}
	if err := dev.name.Available(); err != nil { // before the data is prepared: say at once when there is no GPU
		return err
	}
	if !dev.job.lead() {
		stdout = io.Discard // rank 0 reports; the others' errors still reach stderr
	}
	// Ctrl-C once training runs ends with a checkpoint (train.Start);
	// before that (preparing the data, fitting the baseline) nothing is
	// lost, and that is not an error.
	defer func() {
		if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
			fmt.Fprintln(stdout, "interrupted before training began: nothing was saved; run the same command again to start")
			err = nil
		}
	}()
	if f.resume != "" {
		return resumeRun(ctx, hf, f.resume, c, set, dev, stdout)
	}
	if f.cfgFile != "" {
		if _, err := sdk.RegularFile(f.cfgFile); err != nil { // a named pipe would block the read
			return err
		}
		fc, err := train.ReadConfig(f.cfgFile)
		if err != nil {
			return err
		}
		fc.Override(c, settings(set)) // flags given on the command line win over the file
		c = fc
	}
	if c.InitFrom != "" { // the model's sizes, plugin and tokenizer options
		if set["preset"] || set["complex"] || set["nonselective"] {
			return usagef("--preset, --complex and --nonselective shape a new model; with --init-from the model comes from its directory")
		}
		var err error
		if modality, opts, err = session.InitFrom(&c, modality, opts, stdout); err != nil {
			return err
		}
	}
	if modality == "" {
		return usagef("missing --modality (see \"mambakit plugins list\")")
	}
	if out == "" {
		out = train.FreeRunDir(filepath.Join("runs", modality))
		fmt.Fprintf(stdout, "run directory: %s\n", out)
	}
	if err := c.Resolve(); err != nil {
		return err
	}
	// Own the run directory before anything is written there: a second
	// writer, or a directory that holds a run already, is refused here,
	// before the data is prepared. The ranks of a job take it themselves.
	release := func() {}
	if dev.job.dist == nil {
		var err error
		release, err = train.ClaimNewRunDir(out)
		if errors.Is(err, train.ErrRunExists) {
			return fmt.Errorf("%w (mambakit train --resume %s)", err, out)
		} else if err != nil {
			return err
		}
		defer func() { release() }()
	}
	s, data, err := session.OpenNewRun(ctx, hf.start, modality, data, opts, out, c, stdout)
	if err != nil {
		return err
	}
	defer s.Close()
	if dev.job.launching() { // the data is prepared: the ranks find it cached
		release() // rank 0 owns the run directory from here
		extra := []string{"--out", out}
		if !posData && !set["data"] { // the bundled sample, written once here
			extra = append(extra, "--data", data[0])
		}
		return dev.job.run(ctx, extra, stdout)
	}
	r := s.Run(out, c, stdout)
	dev.place(r)
	if err := fitBaseline(ctx, r, dev, stdout); err != nil {
		return err
	}
	res, err := train.Start(ctx, r)
	if errors.Is(err, train.ErrRunExists) {
		err = fmt.Errorf("%w (mambakit train --resume %s)", err, r.Dir)
	}
	return reportRun(stdout, r, res, err)
}

// settings returns the config.yaml keys of the flags in set
// (train.Config.Override).
func settings(set map[string]bool) map[string]bool {
	keys := map[string]bool{}
	for name := range set {
		keys[strings.ReplaceAll(name, "-", "_")] = true
	}
	return keys
}

// trainDevice is --device, --tf32, --precision and --recompute (not part
// of the run's configuration: a run may be resumed on another device or
// precision).
type trainDevice struct {
	name      train.Device
	tf32      bool
	precision backbone.Precision
	recompute bool
	job       gpuJob // --gpus, --nodes, --rank, --coordinator (train_dist.go)
}

// place puts r on the device, precision and job the flags name.
func (d trainDevice) place(r *train.Run) {
	r.Device, r.TF32, r.Precision, r.Recompute, r.Dist = d.name, d.tf32, d.precision, d.recompute, d.job.dist
}

// resumeRun continues the run in dir with the resumable flags applied
// (flags.Steps: the step to continue to).
func resumeRun(ctx context.Context, hf *hostFlags, dir string, flags train.Config, set map[string]bool, dev trainDevice, stdout io.Writer) error {
	if err := session.CheckCheckpoint(dir); err != nil {
		return err
	}
	info, err := train.ReadRunInfo(dir)
	if err != nil {
		return err
	}
	if dev.job.launching() {
		return dev.job.run(ctx, nil, stdout)
	}
	s, err := session.OpenRun(ctx, hf.start, dir, info, stdout)
	if err != nil {
		return err
	}
	defer s.Close()
	c := info.Config
	c.Steps = 0                      // continue to the run's own target
	c.Override(flags, settings(set)) // the resumable ones only (checkResumeFlags)
	r := s.Run(dir, c, stdout)
	dev.place(r)
	if err := fitBaseline(ctx, r, dev, stdout); err != nil {
		return err
	}
	res, err := train.Resume(ctx, r)
	return reportRun(stdout, r, res, err)
}

func reportRun(stdout io.Writer, r *train.Run, res train.Result, err error) error {
	if err != nil {
		return err
	}
	if res.Interrupted {
		fmt.Fprintf(stdout, "stopped at step %d; resume with: mambakit train --resume %s\n", res.Step, r.Dir)
		return nil
	}
	if res.LastEval != nil {
		fmt.Fprintf(stdout, "done: step %d, validation %.4f bits per %s", res.Step, res.LastEval.BitsPerUnit, r.Modality.Unit)
		if res.LastEval.Answers > 0 {
			fmt.Fprintf(stdout, ", accuracy %.2f%% on %d answers", 100*res.LastEval.Accuracy, res.LastEval.Answers)
		}
		if r.Baseline > 0 {
			fmt.Fprintf(stdout, " (best Markov baseline, order %d: %.4f)", r.BaselineOrder, r.Baseline)
		}
		fmt.Fprintf(stdout, "; checkpoint %s\n", res.Checkpoint)
	}
	fmt.Fprintf(stdout, "metrics: %s, curves: %s\n", filepath.Join(r.Dir, "metrics.jsonl"), filepath.Join(r.Dir, "curves.png"))
	return nil
}
