package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/mambakit/mambakit/framework/compare"
)

func newCompareCmd(x *invocation) *cobra.Command {
	var out string
	var jobs int
	var quick bool
	c := &cobra.Command{
		Use:   "compare [SPEC.yaml] [--quick] [--out DIR] [--jobs N]  |  compare RUN_DIR... [--out DIR]",
		Short: "train a grid of runs (modalities × variants × any settings × seeds) and report, or report existing runs",
		RunE: func(c *cobra.Command, args []string) error {
			return runCompare(c.Context(), args, out, jobs, quick, x.stdout)
		},
	}
	addOutFlag(c, &out, "directory of the runs and the report (default: runs/compare, or runs/compare-quick; for RUN_DIRs: runs/compare-report)")
	c.Flags().IntVar(&jobs, "jobs", 1, "runs trained at once, each in its own process (the cores are shared out)")
	c.Flags().BoolVar(&quick, "quick", false, "the built-in quick spec: bundled samples, S6 against LTI, one seed (minutes on 2 cores)")
	return c
}

func runCompare(ctx context.Context, pos []string, out string, jobs int, quick bool, stdout io.Writer) error {
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
	var spec *compare.Spec
	var err error
	switch {
	case len(pos) == 1 && quick:
		return usagef("give a SPEC.yaml or --quick, not both")
	case len(pos) == 1:
		if spec, err = compare.ReadSpec(pos[0]); err != nil {
			return err
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
	fmt.Fprintf(stdout, "comparison: %d runs in %s, %d at a time\n", len(runs), out, jobs)
	res, err := compare.Execute(ctx, spec, out, compare.Options{Exe: exe, Jobs: jobs, Log: stdout})
	if ie := (*compare.InterruptedError)(nil); errors.As(err, &ie) {
		return interruptedExit(ctx, ie.Where)
	}
	if err != nil {
		return err
	}
	return writeCompareReport(spec, res, out, stdout)
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
