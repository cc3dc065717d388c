package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/mambakit/mambakit/framework/session"
	"github.com/mambakit/mambakit/framework/train"
)

func newBaselineCmd(x *invocation) *cobra.Command {
	var in inputFlags
	var cache string
	var order int
	c := &cobra.Command{
		Use:   "baseline --modality M --data PATH... [--order K]",
		Short: "order-K Markov baseline of a modality's data, in bits per unit",
		RunE: func(c *cobra.Command, args []string) error {
			if err := in.check(args); err != nil {
				return err
			}
			if order < -1 {
				return usagef("--order %d: want ≥ 0", order)
			}
			return runBaseline(c.Context(), &in, cache, order, x.stdout)
		},
	}
	in.register(c, 0.1, "(use the training run's)")
	c.Flags().IntVar(&order, "order", -1, "Markov order K (default: every order from 0 up to 6)")
	c.Flags().StringVar(&cache, "cache", "", "dataset directory to prepare into and reuse (default: a temporary one)")
	return c
}

func runBaseline(ctx context.Context, in *inputFlags, cache string, order int, stdout io.Writer) error {
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
	bestK, best, err := s.Markov(ctx, orders, func(k int, e train.Eval) error {
		fmt.Fprintf(stdout, "order %d: %.4f bits per %s (%d validation tokens)\n", k, e.BitsPerUnit, unit, e.Tokens)
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "best_order=%d bits_per_unit=%.6f unit=%s\n", bestK, best, unit)
	return nil
}
