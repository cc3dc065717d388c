package train

import (
	"context"
	"math"

	"github.com/mambakit/mambakit/framework/markov"
)

// MaxMarkovOrder is the largest Markov order a vocabulary of V allows.
func MaxMarkovOrder(V int) int { return markov.MaxOrder(V) }

// MarkovBaseline fits an order-k Markov model (framework/markov) on tr and
// scores va as Evaluate scores a model: nats per scored token and bits per
// unit; in a task (Answer set) only the answer positions.
func MarkovBaseline(ctx context.Context, tr, va *Data, V, order int) (Eval, error) {
	m, err := markov.Fit(ctx, tr.Tokens, tr.Start, V, order)
	if err != nil {
		return Eval{}, err
	}
	nats, n := m.Score(va.Tokens, va.Start, va.Answer)
	e := Eval{Tokens: n}
	if n > 0 {
		e.NatsPerToken = nats / float64(n)
		e.BitsPerUnit = e.NatsPerToken / math.Ln2 / va.UnitsPerToken
	}
	return e, nil
}
