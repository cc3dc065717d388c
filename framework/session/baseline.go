package session

import (
	"context"
	"fmt"

	"github.com/mambakit/mambakit/framework/train"
)

// Markov fits an order-k Markov baseline on the training split for each k
// in orders (nil: every order from 0 up to 6 that the vocabulary allows)
// and calls report with its validation result, in order of k.
func (s *Session) Markov(ctx context.Context, orders []int, report func(k int, e train.Eval) error) error {
	if orders == nil {
		for k := 0; k <= min(6, train.MaxMarkovOrder(s.Manifest.VocabSize)); k++ {
			orders = append(orders, k)
		}
	}
	for _, k := range orders {
		e, err := train.MarkovBaseline(ctx, s.Train, s.Valid, s.Manifest.VocabSize, k)
		if err != nil {
			return fmt.Errorf("session: Markov baseline of order %d: %w", k, err)
		}
		if err := report(k, e); err != nil {
			return err
		}
	}
	return nil
}
