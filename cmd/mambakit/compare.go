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
	fs := newFlagSet("compare", "compare [SPEC.yaml] [--quick] [--out DIR] [--jobs N]")
	fs.StringVar(&out, "out", "", "directory of the runs and the report (default: runs/compare, or runs/compare-quick)")
	fs.IntVar(&jobs, "jobs", 1, "runs trained at once, each in its own process (the cores are shared out)")
	fs.BoolVar(&quick, "quick", false, "the built-in quick spec: bundled samples, S6 against LTI, one seed (minutes on 2 cores)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	var spec *compare.Spec
	switch {
	case len(pos) > 1:
		return fmt.Errorf("want at most one SPEC.yaml, got %d", len(pos))
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
	n := len(spec.Runs(out))
	fmt.Fprintf(stdout, "comparison: %d runs (%d modalities × %d variants × %d seeds) in %s, %d at a time\n",
		n, len(spec.Modalities), len(spec.Variants), len(spec.Seeds), out, jobs)
	res, err := compare.Execute(ctx, spec, out, compare.Options{Exe: exe, Jobs: jobs, Log: stdout})
	if err != nil {
		return err
	}
	if err := compare.WriteReport(spec, res, out); err != nil {
		return err
	}
	sum := compare.Summarize(spec, res)
	for _, m := range spec.Modalities {
		if g, ok := sum.Gain[m.Name]; ok {
			fmt.Fprintf(stdout, "%s: selection gain over the best LTI variant %+.1f%%\n", m.Name, 100*g)
		}
	}
	fmt.Fprintf(stdout, "report: %s\n", filepath.Join(out, "report.md"))
	return nil
}
