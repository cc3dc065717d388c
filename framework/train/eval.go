package train

import (
	"context"
	"fmt"
	"math"

	"github.com/mambakit/mambakit/framework/backbone"
)

// Eval is the result of an evaluation.
type Eval struct {
	Tokens       int64   // tokens whose prediction was scored
	NatsPerToken float64 // mean cross-entropy
	BitsPerUnit  float64 // NatsPerToken / ln 2 / units per token
}

// Evaluate scores the model on (up to maxTokens of) d, deterministically:
// the stream is cut into B contiguous parts, each read in chunks of L
// tokens with the recurrent state carried across chunks, so every token is
// predicted from its whole document, as in generation. maxTokens 0 scores
// everything.
func Evaluate(ctx context.Context, m *backbone.Model, d *Data, B, L, maxTokens int) (Eval, error) {
	T := int64(len(d.Tokens)) - 1 // the last token has no target
	if maxTokens > 0 && int64(maxTokens) < T {
		T = int64(maxTokens)
	}
	P := T / int64(B) // tokens per row
	if P < 1 {
		B, P = 1, T
	}
	if P < 1 {
		return Eval{}, fmt.Errorf("evaluation split has %d tokens: too few to score", len(d.Tokens))
	}
	st := m.NewState(B)
	var nats float64
	var count int64
	for off := int64(0); off < P; off += int64(L) {
		if err := ctx.Err(); err != nil {
			return Eval{}, err
		}
		n := int(min(int64(L), P-off))
		b := &backbone.Batch{B: B, L: n, Inputs: make([]int32, B*n), Targets: make([]int32, B*n), Reset: make([]bool, B*n)}
		for r := 0; r < B; r++ {
			d.fill(b, r, int64(r)*P+off, off == 0)
		}
		loss, err := m.Forward(b, st)
		if err != nil {
			return Eval{}, err
		}
		c := int64(0)
		for _, t := range b.Targets {
			if t >= 0 {
				c++
			}
		}
		nats += loss * float64(c)
		count += c
	}
	if count == 0 {
		return Eval{}, fmt.Errorf("evaluation split has no scorable token (every document is one token long)")
	}
	e := Eval{Tokens: count, NatsPerToken: nats / float64(count)}
	e.BitsPerUnit = e.NatsPerToken / math.Ln2 / d.UnitsPerToken
	return e, nil
}

// Score calls fn with the log-probability (nats) the model gives each token
// of a sequence after the ones before it, for t = 1 .. len(tokens)−1,
// reading chunks of L tokens with the state carried across, so memory does
// not grow with the length.
func Score(ctx context.Context, m *backbone.Model, tokens []int32, L int, fn func(t int, logp float64) error) error {
	if len(tokens) < 2 {
		return fmt.Errorf("score: %d tokens: need at least 2", len(tokens))
	}
	V := m.Config.VocabSize
	st := m.NewState(1)
	last := len(tokens) - 1 // positions with a target
	for off := 0; off < last; off += L {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(L, last-off)
		b := &backbone.Batch{B: 1, L: n, Inputs: tokens[off : off+n]}
		if _, err := m.Forward(b, st); err != nil {
			return err
		}
		logits := m.Logits()
		for t := 0; t < n; t++ {
			row := logits[t*V : (t+1)*V]
			mx := math.Inf(-1)
			for _, v := range row {
				mx = math.Max(mx, float64(v))
			}
			var z float64
			for _, v := range row {
				z += math.Exp(float64(v) - mx)
			}
			tgt := tokens[off+t+1]
			if err := fn(off+t+1, float64(row[tgt])-mx-math.Log(z)); err != nil {
				return err
			}
		}
	}
	return nil
}
