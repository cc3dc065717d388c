package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/mambakit/mambakit/framework/session"
	"github.com/mambakit/mambakit/framework/train"
)

func runBaseline(args []string, stdout io.Writer) error {
	var hf hostFlags
	var modality, cache string
	var data listFlag
	var order int
	var seed uint64
	var valid float64
	opts := optionFlag{}
	fs := newFlagSet("baseline", "baseline --modality M --data PATH... [--order K]")
	hf.register(fs)
	fs.StringVar(&modality, "modality", "", "the plugin that reads the data")
	fs.Var(&data, "data", "input file or directory (repeatable; further arguments are inputs too)")
	fs.IntVar(&order, "order", -1, "Markov order K (default: every order from 0 up to 6)")
	fs.StringVar(&cache, "cache", "", "dataset directory to prepare into and reuse (default: a temporary one)")
	fs.Uint64Var(&seed, "seed", 1, "seed of the train/validation split (use the training run's)")
	fs.Float64Var(&valid, "valid", 0.1, "share of documents in the validation split (use the training run's)")
	fs.Var(opts, "option", "plugin option key=value (repeatable)")
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
	case order < -1:
		return fmt.Errorf("--order %d: want ≥ 0", order)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	p, err := hf.start(modality)
	if err != nil {
		return err
	}
	defer p.Close()
	if cache == "" {
		tmp, err := os.MkdirTemp("", "mambakit-baseline-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		cache = filepath.Join(tmp, "data")
	}
	s, err := session.Open(ctx, p, data, opts, cache, seed, valid, stdout)
	if err != nil {
		return err
	}
	defer s.Close()
	var orders []int // nil: all
	if order >= 0 {
		orders = []int{order}
	}
	unit := p.Info.Unit
	best, bestK := 0.0, -1
	err = s.Markov(ctx, orders, func(k int, e train.Eval) error {
		fmt.Fprintf(stdout, "order %d: %.4f bits per %s (%d validation tokens)\n", k, e.BitsPerUnit, unit, e.Tokens)
		if bestK < 0 || e.BitsPerUnit < best {
			best, bestK = e.BitsPerUnit, k
		}
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "best_order=%d bits_per_unit=%.6f unit=%s\n", bestK, best, unit)
	return nil
}
