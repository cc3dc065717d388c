package session

import (
	"context"
	"fmt"
	"math"

	"github.com/mambakit/mambakit/framework/train"
)

// Evaluate scores m on both splits, all of which are held-out data here
// (the plugin's split only divides the documents), B rows at a time in
// chunks of L tokens, and returns the totals: NatsPerToken over all
// tokens, BitsPerUnit over all units and Accuracy over all answers.
func (s *Session) Evaluate(ctx context.Context, m train.Model, B, L int) (train.Eval, error) {
	if s.Manifest.VocabSize > m.Config().VocabSize {
		return train.Eval{}, fmt.Errorf("the data has %d token ids, the model only %d: was it encoded with another tokenizer?", s.Manifest.VocabSize, m.Config().VocabSize)
	}
	var nats, units, correct float64
	var all train.Eval
	for _, d := range []*train.Data{s.Train, s.Valid} {
		e, err := train.Evaluate(ctx, m, d, B, L, 0)
		if err != nil {
			return train.Eval{}, err
		}
		nats += e.NatsPerToken * float64(e.Tokens)
		units += float64(e.Tokens) * d.UnitsPerToken
		all.Tokens += e.Tokens
		all.Answers += e.Answers
		correct += e.Accuracy * float64(e.Answers)
	}
	all.NatsPerToken = nats / float64(all.Tokens)
	all.BitsPerUnit = nats / math.Ln2 / units
	if all.Answers > 0 {
		all.Accuracy = correct / float64(all.Answers)
	}
	return all, nil
}
