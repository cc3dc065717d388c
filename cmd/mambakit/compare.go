package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/spf13/cobra"

	"github.com/mambakit/mambakit/framework/compare"
	"github.com/mambakit/mambakit/framework/train"
)

func newCompareCmd(x *invocation) *cobra.Command {
	var out string
	var jobs int
	var quick, tf32 bool
	var dev train.Device
	var sl slurmFlags
	c := &cobra.Command{
		Use:   "compare [SPEC.yaml] [--quick] [--out DIR] [--jobs N | --slurm [flags] | --collect]  |  compare RUN_DIR... [--out DIR]",
		Short: "train a grid of runs (modalities × variants × any settings × seeds) and report, or report existing runs",
		RunE: func(c *cobra.Command, args []string) error {
			var place *compare.Placement
			if c.Flags().Changed("device") || c.Flags().Changed("tf32") {
				place = &compare.Placement{Device: dev, TF32: tf32}
			}
			if sl.set(c) {
				return sl.run(c.Context(), args, out, quick, place, x.stdout)
			}
			return runCompare(c.Context(), args, out, jobs, quick, place, x.stdout)
		},
	}
	c.Flags().Var(specDeviceValue{deviceValue{&dev}}, "device", "where every run trains, over the spec's device: (cpu by default): cpu, or cuda (--jobs runs at once on each GPU the driver sees; docs/gpu.md)")
	completeDevice(c)
	c.Flags().BoolVar(&tf32, "tf32", false, "with --device cuda: TF32 tensor cores for the projections")
	addOutFlag(c, &out, "directory of the runs and the report (default: runs/compare, or runs/compare-quick; for RUN_DIRs: runs/compare-report)")
	c.Flags().IntVar(&jobs, "jobs", 1, "runs trained at once, each in its own process (the cores are shared out)")
	c.Flags().BoolVar(&quick, "quick", false, "the built-in quick spec: bundled samples, S6 against LTI, one seed (minutes on 2 cores)")
	sl.register(c)
	return c
}

func runCompare(ctx context.Context, pos []string, out string, jobs int, quick bool, place *compare.Placement, stdout io.Writer) error {
	if len(pos) > 0 && !compare.SpecArg(pos) {
		if quick {
			return usagef("give run directories or --quick, not both")
		}
		if out == "" {
			out = filepath.Join("runs", "compare-report")
		}
		spec, res, err := compare.ReadRuns(pos)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "report of %d runs\n", len(res))
		return writeCompareReport(spec, res, out, stdout)
	}
	spec, out, err := readCompareSpec(pos, out, quick, place)
	if err != nil {
		return err
	}
	if jobs < 1 {
		return usagef("--jobs %d: want ≥ 1", jobs)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the mambakit binary: %w", err)
	}
	runs, err := spec.Runs(out)
	if err != nil {
		return err
	}
	if spec.Device == train.CUDA {
		fmt.Fprintf(stdout, "comparison: %d runs in %s, %d at a time on each GPU\n", len(runs), out, jobs)
	} else {
		fmt.Fprintf(stdout, "comparison: %d runs in %s, %d at a time\n", len(runs), out, jobs)
	}
	res, err := compare.Execute(ctx, spec, out, compare.Options{Exe: exe, Jobs: jobs, Log: stdout})
	if ie := (*compare.InterruptedError)(nil); errors.As(err, &ie) {
		return interruptedExit(ctx, ie.Where)
	}
	if err != nil {
		return err
	}
	return writeCompareReport(spec, res, out, stdout)
}

// readCompareSpec reads the spec the arguments name (a file, --quick or
// the default), with --device and --tf32 over its own, and the
// comparison's directory.
func readCompareSpec(pos []string, out string, quick bool, place *compare.Placement) (*compare.Spec, string, error) {
	var spec *compare.Spec
	var err error
	switch {
	case len(pos) == 1 && quick:
		return nil, "", usagef("give a SPEC.yaml or --quick, not both")
	case len(pos) == 1:
		if spec, err = compare.ReadSpec(pos[0]); err != nil {
			return nil, "", err
		}
	case quick:
		spec = compare.Quick()
	default:
		spec = compare.Default()
	}
	if out == "" {
		out = filepath.Join("runs", "compare")
		if quick {
			out += "-quick"
		}
	}
	if place != nil {
		if place.TF32 && place.Device != train.CUDA {
			return nil, "", usagef("--tf32 needs --device cuda")
		}
		spec.Device, spec.TF32 = place.Device, place.TF32
	}
	return spec, out, nil
}

// slurmFlags are compare's flags for Slurm (docs/compare.md, "On Slurm"):
// --slurm submits an array job whose task i runs --only-run i, and whose
// report --collect writes.
type slurmFlags struct {
	slurm, dryRun, collect bool
	only                   int
	job                    compare.SlurmJob
	changed                func(name string) bool // the flag was given
}

func (f *slurmFlags) register(c *cobra.Command) {
	fs := c.Flags()
	fs.BoolVar(&f.slurm, "slurm", false, "submit the runs not finished yet as a Slurm array job (task i trains run i), and a job that writes the report after it")
	fs.StringVar(&f.job.Partition, "partition", "", "with --slurm: the partition (default: the cluster's)")
	fs.StringVar(&f.job.Account, "account", "", "with --slurm: the account to charge")
	fs.StringVar(&f.job.Time, "time", "", "with --slurm: each run's time limit (90, 4:00:00, 1-12:00:00); compare saves a checkpoint 2 minutes before it")
	fs.IntVar(&f.job.GPUsPerRun, "gpus-per-run", 0, "with --slurm: GPUs per run (--gres=gpu:N)")
	fs.IntVar(&f.job.CPUsPerRun, "cpus-per-run", 0, "with --slurm: CPUs per run (--cpus-per-task; default: Slurm's, often 1); the run trains on as many threads")
	fs.BoolVar(&f.dryRun, "dry-run", false, "with --slurm: print the scripts and the sbatch commands, submit nothing")
	fs.BoolVar(&f.collect, "collect", false, "write the report from the run directories of a spec whose runs are all finished, training nothing")
	fs.IntVar(&f.only, "only-run", 0, "train run N of the spec alone (0-based; a Slurm array task's)")
	fs.MarkHidden("only-run")
}

// set reports whether a Slurm flag was given (then run, not
// runCompare, handles the command).
func (f *slurmFlags) set(c *cobra.Command) bool {
	f.changed = c.Flags().Changed
	return slices.ContainsFunc([]string{"slurm", "collect", "only-run", "dry-run", "partition", "account", "time", "gpus-per-run", "cpus-per-run"}, f.changed)
}

// run submits the spec's unfinished runs to Slurm (--slurm), trains one
// run (--only-run) or writes the report of finished runs (--collect).
func (f *slurmFlags) run(ctx context.Context, pos []string, out string, quick bool, place *compare.Placement, stdout io.Writer) error {
	only := f.changed("only-run")
	switch {
	case len(pos) > 0 && !compare.SpecArg(pos):
		return usagef("--slurm, --collect and --only-run take a SPEC.yaml (or --quick), not run directories")
	case btoi(f.slurm)+btoi(f.collect)+btoi(only) > 1:
		return usagef("give one of --slurm, --collect and --only-run")
	case f.changed("jobs"):
		return usagef("--jobs is for runs on this machine; with --slurm every run is a task of its own")
	case !f.slurm && !f.collect && !only:
		return usagef("--partition, --account, --time, --gpus-per-run, --cpus-per-run and --dry-run go with --slurm")
	case !f.slurm && slices.ContainsFunc([]string{"partition", "account", "time", "gpus-per-run", "cpus-per-run", "dry-run"}, f.changed):
		return usagef("--partition, --account, --time, --gpus-per-run, --cpus-per-run and --dry-run go with --slurm")
	}
	spec, out, err := readCompareSpec(pos, out, quick, place)
	if err != nil {
		return err
	}
	runs, err := spec.Runs(out)
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the mambakit binary: %w", err)
	}
	switch {
	case only:
		if f.only < 0 || f.only >= len(runs) {
			return usagef("--only-run %d: the spec has %d runs, 0 to %d", f.only, len(runs), len(runs)-1)
		}
		err := compare.ExecuteOne(ctx, spec, out, f.only, compare.SlurmThreads(os.Getenv), compare.Options{Exe: exe, Log: stdout})
		if ie := (*compare.InterruptedError)(nil); errors.As(err, &ie) {
			return interruptedExit(ctx, ie.Where)
		}
		return err
	case f.collect:
		res, err := compare.CollectFinished(spec, out)
		if err != nil {
			return err
		}
		return writeCompareReport(spec, res, out, stdout)
	}
	idx, err := compare.Unfinished(spec, out)
	if err != nil {
		return err
	}
	if len(idx) == 0 {
		fmt.Fprintf(stdout, "all %d runs in %s are finished: nothing to submit\n", len(runs), out)
		res, err := compare.CollectFinished(spec, out)
		if err != nil {
			return err
		}
		return writeCompareReport(spec, res, out, stdout)
	}
	j := f.job
	j.Exe, j.Name = exe, spec.Name
	if len(pos) == 1 {
		if pos[0], err = filepath.Abs(pos[0]); err != nil {
			return fmt.Errorf("the spec's path: %w", err)
		}
		j.SpecArgs = pos
	} else if quick {
		j.SpecArgs = []string{"--quick"}
	}
	if place != nil { // the tasks train where this command was told to
		j.SpecArgs = append(j.SpecArgs, "--device", string(place.Device))
		if place.TF32 {
			j.SpecArgs = append(j.SpecArgs, "--tf32")
		}
	}
	if spec.Device == train.CUDA && !f.changed("gpus-per-run") {
		j.GPUsPerRun = 1
	}
	if j.Out, err = filepath.Abs(out); err != nil {
		return fmt.Errorf("the comparison's path: %w", err)
	}
	if j.Dir, err = os.Getwd(); err != nil {
		return fmt.Errorf("the working directory: %w", err)
	}
	if err := j.Check(); err != nil {
		return usageError{err}
	}
	if f.dryRun {
		fmt.Fprint(stdout, j.DryRun(idx, len(runs)))
		return nil
	}
	sub, err := j.Submit(ctx, idx, len(runs))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "submitted %d of %d runs as Slurm array job %s (tasks %s), logs in %s\n", len(idx), len(runs), sub.ArrayID, sub.Array, filepath.Dir(sub.ArrayScript))
	fmt.Fprintf(stdout, "job %s writes %s when the array has ended (squeue -j %s,%s)\n", sub.CollectID, filepath.Join(out, "report.md"), sub.ArrayID, sub.CollectID)
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
func writeCompareReport(spec *compare.Spec, res []compare.Result, out string, stdout io.Writer) error {
	if err := compare.WriteReport(spec, res, out); err != nil {
		return err
	}
	sum := compare.Summarize(spec, res)
	for _, row := range sum.Rows {
		if g, ok := sum.Gain[row.Label]; ok {
			fmt.Fprintf(stdout, "%s: selection gain over the best LTI variant %+.1f%%\n", row.Label, 100*g)
		}
	}
	fmt.Fprintf(stdout, "report: %s\n", filepath.Join(out, "report.md"))
	return nil
}

// specDeviceValue is compare's --device: unset, the spec decides, so it
// shows no default.
type specDeviceValue struct{ deviceValue }

func (v specDeviceValue) String() string { return string(*v.Device) }
