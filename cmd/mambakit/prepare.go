package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"text/tabwriter"

	"github.com/mambakit/mambakit/sdk"
)

func runPrepare(args []string, stdout io.Writer) error {
	var (
		hf       hostFlags
		modality string
		data     listFlag
		out      string
		seed     uint64
		valid    float64
		opts     = optionFlag{}
	)
	fs := newFlagSet("prepare", "prepare --modality M --data PATH... -o DIR [flags]")
	hf.register(fs)
	fs.StringVar(&modality, "modality", "", "the plugin that reads the data (see \"mambakit plugins list\")")
	fs.Var(&data, "data", "input file or directory (repeatable; further arguments are inputs too)")
	fs.StringVar(&out, "o", "", "output dataset directory")
	fs.Uint64Var(&seed, "seed", 1, "seed of the train/validation split (and of any training the plugin does)")
	fs.Float64Var(&valid, "valid", 0.05, "share of documents in the validation split")
	fs.Var(opts, "option", "plugin option key=value (repeatable; see the plugin's docs)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	data = append(data, pos...)
	switch {
	case modality == "":
		return errors.New("missing --modality")
	case len(data) == 0:
		return errors.New("missing --data")
	case out == "":
		return errors.New("missing -o DIR")
	case !(valid > 0 && valid < 1):
		return fmt.Errorf("--valid %v is not in (0, 1)", valid)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	h, err := hf.open()
	if err != nil {
		return err
	}
	p, err := h.Start(ctx, modality)
	if err != nil {
		return err
	}
	defer p.Close()
	ds, cached, err := p.Prepare(ctx, sdk.PrepareRequest{Inputs: data, OutDir: out, Options: opts, Seed: seed, ValidFraction: valid})
	if err != nil {
		return err
	}
	note := ""
	if cached {
		note = " (cached: same plugin version, inputs, options and seed)"
	}
	unit := p.Info.Unit
	fmt.Fprintf(stdout, "prepared %s dataset in %s%s\n", modality, out, note)
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
