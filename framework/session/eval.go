package session

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

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

// EvaluateFiles prepares inputs with the checkpoint's plugin and run
// options into a temporary dataset, all of it held-out data, and scores the
// model on it (Evaluate).
func (c *Checkpoint) EvaluateFiles(ctx context.Context, inputs []string, B, L int) (train.Eval, error) {
	tmp, err := os.MkdirTemp("", "mambakit-eval-")
	if err != nil {
		return train.Eval{}, err
	}
	defer os.RemoveAll(tmp)
	// Prepare splits documents into two parts; both are held-out data here.
	s, err := Open(ctx, c.Plugin, inputs, c.Codec(), filepath.Join(tmp, "data"), 1, 0.5, io.Discard)
	if err != nil {
		return train.Eval{}, err
	}
	defer s.Close()
	return s.Evaluate(ctx, c.Model, B, L)
}
