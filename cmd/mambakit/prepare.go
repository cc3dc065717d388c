package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mambakit/mambakit/sdk"
)

func newPrepareCmd(x *invocation) *cobra.Command {
	var in inputFlags
	var out string
	c := &cobra.Command{
		Use:   "prepare --modality M --data PATH... -o DIR [flags]",
		Short: "tokenize data into a dataset with a modality plugin",
		RunE: func(c *cobra.Command, args []string) error {
			return runPrepare(c.Context(), &in, out, args, x.stdout)
		},
	}
	in.register(c, 0.05, "(and of any training the plugin does)")
	addOutFlag(c, &out, "output dataset directory")
	return c
}

func runPrepare(ctx context.Context, in *inputFlags, out string, args []string, stdout io.Writer) error {
	if err := in.check(args); err != nil {
		return err
	}
	switch {
	case out == "":
		return usagef("missing -o DIR (or --out DIR)")
	case !(in.valid > 0 && in.valid < 1):
		return usagef("--valid %v is not in (0, 1)", in.valid)
	}
	p, err := in.hf.start(ctx, in.modality)
	if err != nil {
		return err
	}
	defer p.Close()
	ds, cached, err := p.Prepare(ctx, sdk.PrepareRequest{Inputs: in.data, OutDir: out, Options: in.opts, Seed: in.seed, ValidFraction: in.valid})
	if err != nil {
		return err
	}
	note := ""
	if cached {
		note = " (cached: same plugin version, inputs, options and seed)"
	}
	unit := p.Info.Unit
	fmt.Fprintf(stdout, "prepared %s dataset in %s%s\n", in.modality, out, note)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	for _, s := range []struct {
		name string
		sp   sdk.Split
	}{{"train", ds.Train}, {"valid", ds.Valid}} {
		fmt.Fprintf(tw, "  %s\t%d tokens\t%d documents\t%d %ss\t\n", s.name, s.sp.Tokens, s.sp.Documents, s.sp.Units, unit)
	}
	tw.Flush()
	tokens := ds.Train.Tokens + ds.Valid.Tokens
	fmt.Fprintf(stdout, "  vocabulary %d, %.3f %ss per token\n", ds.VocabSize, float64(ds.Train.Units+ds.Valid.Units)/float64(tokens), unit)
	return nil
}
