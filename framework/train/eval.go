package train

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"

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

// Evaluate scores the model on (up to maxTokens of) d, deterministically
// and independently of B: each document is read from its start with a fresh
// state, in chunks of L tokens with the state carried across chunks, so
// every token is predicted from its whole document, as in generation, and
// every position before the cut is scored once. The documents are dealt to
// B rows, longest first to the shortest row; a row that runs out is padded
// with unscored positions. Rows cannot share a document (its state is
// sequential), so B beyond the number of documents adds nothing. maxTokens
// 0 scores everything.
func Evaluate(ctx context.Context, m Model, d *Data, B, L int, maxTokens int) (Eval, error) {
	T := int64(len(d.Tokens)) - 1 // the last token has no target
	if maxTokens > 0 && int64(maxTokens) < T {
		T = int64(maxTokens)
	}
	if T < 1 {
		return Eval{}, fmt.Errorf("evaluation split has %d tokens: too few to score", len(d.Tokens))
	}
	if B < 1 || L < 1 {
		return Eval{}, fmt.Errorf("evaluation batch %d × length %d: both must be at least 1", B, L)
	}
	rows := dealDocuments(d.Start[:T], B)
	B = len(rows)
	P := int64(0) // the longest row
	for _, r := range rows {
		P = max(P, r.length())
	}
	st, err := m.NewState(B)
	if err != nil {
		return Eval{}, err
	}
	defer st.Free()
	var nats float64
	var count, answers, correct int64
	for off := int64(0); off < P; off += int64(L) {
		if err := ctx.Err(); err != nil {
			return Eval{}, err
		}
		n := int(min(int64(L), P-off))
		b := &backbone.Batch{B: B, L: n, Inputs: make([]int32, B*n), Targets: make([]int32, B*n), Reset: make([]bool, B*n)}
		pos := make([]int64, B*n) // stream position of each batch cell; −1: padding
		for r := range rows {
			rows[r].fill(d, b, pos, r)
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
			answers, correct = scoreAnswers(logits, m.Config().VocabSize, d, b, pos, answers, correct)
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

// evalRow is the documents one evaluation row reads, one after another,
// and how far it has got.
type evalRow struct {
	docs [][2]int64 // [start, end) stream positions
	k    int        // the document being read
	at   int64      // the next position to read
}

func (r *evalRow) length() int64 {
	var n int64
	for _, s := range r.docs {
		n += s[1] - s[0]
	}
	return n
}

// fill writes the row's next b.L positions into row i of b (and their
// stream positions into pos), resetting the state at each document's
// start, and pads past the row's end with unscored positions.
func (r *evalRow) fill(d *Data, b *backbone.Batch, pos []int64, i int) {
	for t := 0; t < b.L; t++ {
		c := i*b.L + t
		if r.k == len(r.docs) {
			b.Inputs[c], b.Targets[c], b.Reset[c], pos[c] = 0, -1, true, -1
			continue
		}
		s := r.at
		b.Inputs[c] = d.Tokens[s]
		b.Reset[c] = s == r.docs[r.k][0]
		if d.Start[s+1] || (d.Answer != nil && !d.Answer[s+1]) {
			// A target across a document start is unknowable; in a task
			// (Answer set) only the answers are scored.
			b.Targets[c] = -1
		} else {
			b.Targets[c] = d.Tokens[s+1]
		}
		pos[c] = s
		r.at++
		if r.at == r.docs[r.k][1] {
			r.k++
			if r.k < len(r.docs) {
				r.at = r.docs[r.k][0]
			}
		}
	}
}

// dealDocuments splits positions [0, len(start)) at the document starts
// and deals the documents to at most B rows, longest first, each to the
// row with the fewest positions so far (the lower index on a tie), so the
// rows end close together. The deal depends only on the documents and B.
func dealDocuments(start []bool, B int) []evalRow {
	var docs [][2]int64
	for s := range int64(len(start)) {
		if s == 0 || start[s] {
			docs = append(docs, [2]int64{s, s})
		}
		docs[len(docs)-1][1] = s + 1
	}
	order := make([]int, len(docs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Compare(docs[b][1]-docs[b][0], docs[a][1]-docs[a][0])
	})
	rows := make([]evalRow, min(B, len(docs)))
	load := make([]int64, len(rows))
	for _, i := range order {
		r := 0
		for j := range load {
			if load[j] < load[r] {
				r = j
			}
		}
		rows[r].docs = append(rows[r].docs, docs[i])
		load[r] += docs[i][1] - docs[i][0]
	}
	for r := range rows {
		rows[r].at = rows[r].docs[0][0]
	}
	return rows
}

// scoreAnswers counts, in the batch just evaluated (cell c at stream
// position pos[c], −1 for padding; its logits (B, L, V)), the answer
// positions and those whose target the model's argmax predicts.
func scoreAnswers(logits []float32, V int, d *Data, b *backbone.Batch, pos []int64, answers, correct int64) (int64, int64) {
	for c, s := range pos {
		tgt := b.Targets[c]
		if s < 0 || tgt < 0 || !d.Answer[s+1] {
			continue
		}
		row := logits[c*V : (c+1)*V]
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
