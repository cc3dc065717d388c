package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/mambakit/mambakit/framework/compare"
)

func runCompare(ctx context.Context, args []string, stdout io.Writer) error {
	var out string
	var jobs int
	var quick bool
	fs := newFlagSet("compare", "compare [SPEC.yaml] [--quick] [--out DIR] [--jobs N]  |  compare RUN_DIR... [--out DIR]")
	fs.StringVar(&out, "out", "", "directory of the runs and the report (default: runs/compare, or runs/compare-quick; for RUN_DIRs: runs/compare-report)")
	fs.IntVar(&jobs, "jobs", 1, "runs trained at once, each in its own process (the cores are shared out)")
	fs.BoolVar(&quick, "quick", false, "the built-in quick spec: bundled samples, S6 against LTI, one seed (minutes on 2 cores)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 && !compare.SpecArg(pos) {
		if quick {
			return errors.New("give run directories or --quick, not both")
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
	switch {
	case len(pos) == 1 && quick:
		return errors.New("give a SPEC.yaml or --quick, not both")
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
		return fmt.Errorf("--jobs %d: want ≥ 1", jobs)
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
