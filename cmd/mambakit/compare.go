package main

import (
	"context"
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
		Use:   "compare [SPEC.yaml] [--quick] [--out DIR] [--jobs N]",
		Short: "train a matrix of modalities × SSM variants × seeds and write a report",
		RunE: func(c *cobra.Command, args []string) error {
			return runCompare(c.Context(), args, out, jobs, quick, x.stdout)
		},
	}
	addOutFlag(c, &out, "directory of the runs and the report (default: runs/compare, or runs/compare-quick)")
	c.Flags().IntVar(&jobs, "jobs", 1, "runs trained at once, each in its own process (the cores are shared out)")
	c.Flags().BoolVar(&quick, "quick", false, "the built-in quick spec: bundled samples, S6 against LTI, one seed (minutes on 2 cores)")
	return c
}

func runCompare(ctx context.Context, pos []string, out string, jobs int, quick bool, stdout io.Writer) error {
	var spec *compare.Spec
	var err error
	switch {
	case len(pos) > 1:
		return usagef("want at most one SPEC.yaml, got %d", len(pos))
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
