package session

import (
	"context"
	"fmt"

	"github.com/mambakit/mambakit/framework/train"
)

// Markov fits an order-k Markov baseline on the training split for each k
// in orders (nil: every order from 0 up to 6 that the vocabulary allows),
// calls report with its validation result, in order of k, and returns the
// order with the fewest bits per unit and those bits.
func (s *Session) Markov(ctx context.Context, orders []int, report func(k int, e train.Eval) error) (best int, bits float64, err error) {
	if orders == nil {
		for k := 0; k <= min(6, train.MaxMarkovOrder(s.Manifest.VocabSize)); k++ {
			orders = append(orders, k)
		}
	}
	best = -1
	for _, k := range orders {
		e, err := train.MarkovBaseline(ctx, s.Train, s.Valid, s.Manifest.VocabSize, k)
		if err != nil {
			return best, bits, fmt.Errorf("session: Markov baseline of order %d: %w", k, err)
		}
		if err := report(k, e); err != nil {
			return best, bits, err
		}
		if best < 0 || e.BitsPerUnit < bits {
			best, bits = k, e.BitsPerUnit
		}
	}
	return best, bits, nil
}
