package train

import (
	"context"
	"fmt"
	"math"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/kernels"
)

// Eval is the result of an evaluation.
type Eval struct {
	Tokens       int64   // tokens whose prediction was scored
	NatsPerToken float64 // mean cross-entropy
	BitsPerUnit  float64 // NatsPerToken / ln 2 / units per token
	// Answers and Accuracy, for data with answer positions (Data.Answer):
	// how many there were and the share the model's argmax got right.
	Answers  int64
	Accuracy float64
}

// Evaluate scores the model on (up to maxTokens of) d, deterministically:
// the stream is cut into B contiguous parts, each read in chunks of L
// tokens with the recurrent state carried across chunks, so every token is
// predicted from its whole document, as in generation. maxTokens 0 scores
// everything.
func Evaluate(ctx context.Context, m Model, d *Data, B, L, maxTokens int) (Eval, error) {
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
	st, err := m.NewState(B)
	if err != nil {
		return Eval{}, err
	}
	defer st.Free()
	var nats float64
	var count, answers, correct int64
	// In a task, an example cut by the start of a row lacks its context: its
	// answers are not scored. first[r] is where row r's first whole example
	// starts.
	var first []int64
	if d.Answer != nil {
		first = make([]int64, B)
		for r := range first {
			s := int64(r) * P
			for s < int64(r+1)*P && !d.Start[s] {
				s++
			}
			first[r] = s
		}
	}
	for off := int64(0); off < P; off += int64(L) {
		if err := ctx.Err(); err != nil {
			return Eval{}, err
		}
		n := int(min(int64(L), P-off))
		b := &backbone.Batch{B: B, L: n, Inputs: make([]int32, B*n), Targets: make([]int32, B*n), Reset: make([]bool, B*n)}
		for r := 0; r < B; r++ {
			d.fill(b, r, int64(r)*P+off, off == 0, false)
			for t := 0; first != nil && t < n && int64(r)*P+off+int64(t) < first[r]; t++ {
				b.Targets[r*n+t] = -1
			}
		}
		loss, err := m.Forward(b, st)
		if err != nil {
			return Eval{}, err
		}
		if d.Answer != nil {
			logits, err := m.Logits()
			if err != nil {
				return Eval{}, err
			}
			answers, correct = scoreAnswers(logits, m.Config().VocabSize, d, b, P, off, answers, correct)
		}
		c := int64(b.Scored())
		nats += loss * float64(c)
		count += c
	}
	if count == 0 {
		return Eval{}, fmt.Errorf("evaluation split has no scorable token (every document is one token long)")
	}
	e := Eval{Tokens: count, NatsPerToken: nats / float64(count), Answers: answers}
	e.BitsPerUnit = e.NatsPerToken / math.Ln2 / d.UnitsPerToken
	if answers > 0 {
		e.Accuracy = float64(correct) / float64(answers)
	}
	return e, nil
}

// scoreAnswers counts, in the batch just evaluated (row r holds stream
// positions r·P+off ..., its logits (B, L, V)), the answer positions and
// those whose target the model's argmax predicts.
func scoreAnswers(logits []float32, V int, d *Data, b *backbone.Batch, P, off int64, answers, correct int64) (int64, int64) {
	for r := 0; r < b.B; r++ {
		for t := 0; t < b.L; t++ {
			s := int64(r)*P + off + int64(t)
			tgt := b.Targets[r*b.L+t]
			if tgt < 0 || !d.Answer[s+1] {
				continue
			}
			row := logits[(r*b.L+t)*V : (r*b.L+t+1)*V]
			best := 0
			for i, v := range row {
				if v > row[best] {
					best = i
				}
			}
			answers++
			if int32(best) == tgt {
				correct++
			}
		}
	}
	return answers, correct
}

// Score calls fn with the log-probability (nats) the model gives each token
// of a sequence after the ones before it, for t = 1 .. len(tokens)−1,
// reading chunks of L tokens with the state carried across, so memory does
// not grow with the length.
func Score(ctx context.Context, m Model, tokens []int32, L int, fn func(t int, logp float64) error) error {
	if len(tokens) < 2 {
		return fmt.Errorf("score: %d tokens: need at least 2", len(tokens))
	}
	V := m.Config().VocabSize
	st, err := m.NewState(1)
	if err != nil {
		return err
	}
	defer st.Free()
	last := len(tokens) - 1 // positions with a target
	logp := make([]float64, min(L, last))
	for off := 0; off < last; off += L {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(L, last-off)
		b := &backbone.Batch{B: 1, L: n, Inputs: tokens[off : off+n]}
		if _, err := m.Forward(b, st); err != nil {
			return err
		}
		logits, err := m.Logits()
		if err != nil {
			return err
		}
		// The loss kernel's per-row values: −log p(target) in nats.
		kernels.CrossEntropyRows(logp[:n], nil, logits, tokens[off+1:off+n+1], V, 1)
		for t := 0; t < n; t++ {
			if err := fn(off+t+1, -logp[t]); err != nil {
				return err
			}
		}
	}
	return nil
}
