package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/mambakit/mambakit/framework/session"
	"github.com/mambakit/mambakit/framework/train"
)

func runBaseline(ctx context.Context, args []string, stdout io.Writer) error {
	var in inputFlags
	var cache string
	var order int
	fs := newFlagSet("baseline", "baseline --modality M --data PATH... [--order K]")
	in.register(fs, 0.1, "(use the training run's)")
	fs.IntVar(&order, "order", -1, "Markov order K (default: every order from 0 up to 6)")
	fs.StringVar(&cache, "cache", "", "dataset directory to prepare into and reuse (default: a temporary one)")
	if err := in.parse(fs, args); err != nil {
		return err
	}
	if order < -1 {
		return fmt.Errorf("--order %d: want ≥ 0", order)
	}
	p, err := in.hf.start(ctx, in.modality)
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
	s, err := session.Open(ctx, p, in.data, in.opts, cache, in.seed, in.valid, stdout)
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
