package train

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mambakit/mambakit/framework/backbone"
)

// evalData is a stream of documents of awkward lengths (1 to 40 tokens).
func evalData(seed uint64, docs int) *Data {
	r := rand.New(rand.NewPCG(seed, 1))
	var toks []int32
	var starts []int64
	for range docs {
		starts = append(starts, int64(len(toks)))
		for range 1 + r.IntN(40) {
			toks = append(toks, int32(r.IntN(11)))
		}
	}
	return NewData(toks, starts, 1)
}

func evalModel(t *testing.T) *backbone.Model {
	t.Helper()
	mc := backbone.NewConfig(11, 16, 2)
	mc.StateSize = 4
	m, err := backbone.New(mc, 7)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestEvaluateIndependentOfBatch: the figure and the count of scored
// tokens do not depend on the batch or the chunk length, and equal those
// of reading each document alone from its start in one forward pass.
func TestEvaluateIndependentOfBatch(t *testing.T) {
	d := evalData(3, 23)
	m := evalModel(t)
	// The reference: each document on its own, state fresh.
	var nats float64
	var count int64
	for i := 0; i < len(d.Tokens); {
		j := i + 1
		for j < len(d.Tokens) && !d.Start[j] {
			j++
		}
		if n := j - i - 1; n > 0 {
			loss, err := m.Forward(&backbone.Batch{B: 1, L: n, Inputs: d.Tokens[i : j-1], Targets: d.Tokens[i+1 : j]}, nil)
			if err != nil {
				t.Fatal(err)
			}
			nats += loss * float64(n)
			count += int64(n)
		}
		i = j
	}
	want := nats / float64(count)
	for _, bl := range [][2]int{{1, 1000}, {1, 7}, {4, 16}, {8, 5}, {8, 64}, {3, 1}, {64, 9}} {
		e, err := Evaluate(context.Background(), onCPU(m), d, bl[0], bl[1], 0)
		if err != nil {
			t.Fatal(err)
		}
		if e.Tokens != count {
			t.Errorf("batch %d, length %d: %d tokens scored, want %d", bl[0], bl[1], e.Tokens, count)
		}
		if math.Abs(e.NatsPerToken-want) > 1e-5*want {
			t.Errorf("batch %d, length %d: %.7f nats per token, want %.7f", bl[0], bl[1], e.NatsPerToken, want)
		}
	}
}

// TestEvaluateMaxTokens: a cut scores exactly the positions before it,
// whatever the batch.
func TestEvaluateMaxTokens(t *testing.T) {
	d := evalData(4, 12)
	m := evalModel(t)
	var first Eval
	for i, B := range []int{1, 2, 5} {
		e, err := Evaluate(context.Background(), onCPU(m), d, B, 8, 100)
		if err != nil {
			t.Fatal(err)
		}
		scorable := int64(0)
		for s := 0; s < 100; s++ {
			if !d.Start[s+1] {
				scorable++
			}
		}
		if e.Tokens != scorable {
			t.Errorf("batch %d: %d tokens scored, want %d (the first 100 positions less the document ends)", B, e.Tokens, scorable)
		}
		if i == 0 {
			first = e
		} else if math.Abs(e.NatsPerToken-first.NatsPerToken) > 1e-5*first.NatsPerToken {
			t.Errorf("batch %d: %.7f nats per token, batch 1: %.7f", B, e.NatsPerToken, first.NatsPerToken)
		}
	}
}

// TestEvaluateScoresEveryExample: rows are dealt whole documents, so no
// task example loses its context and every answer is scored, whatever the
// batch.
func TestEvaluateScoresEveryExample(t *testing.T) {
	d := NewData([]int32{9, 1, 4, 9, 1, 5, 9, 1, 6}, []int64{0, 3, 6}, 1)
	d.MarkAnswers(1)
	m := evalModel(t)
	for _, B := range []int{1, 2, 3, 4} {
		e, err := Evaluate(context.Background(), onCPU(m), d, B, 4, 0)
		if err != nil {
			t.Fatal(err)
		}
		if e.Answers != 3 {
			t.Fatalf("batch %d: %d answers scored, want 3 (one per example)", B, e.Answers)
		}
	}
}

// TestDealDocuments: every position is dealt once, in document order
// within a document, longest documents first to the least loaded row.
func TestDealDocuments(t *testing.T) {
	start := []bool{true, false, false, true, true, false, false, false, true, false}
	rows := dealDocuments(start, 2)
	want := [][][2]int64{{{4, 8}, {3, 4}}, {{0, 3}, {8, 10}}}
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2", len(rows))
	}
	for r := range rows {
		if len(rows[r].docs) != len(want[r]) {
			t.Fatalf("row %d: %v, want %v", r, rows[r].docs, want[r])
		}
		for k := range want[r] {
			if rows[r].docs[k] != want[r][k] {
				t.Fatalf("row %d: %v, want %v", r, rows[r].docs, want[r])
			}
		}
	}
	if got := dealDocuments(start, 9); len(got) != 4 {
		t.Errorf("batch 9 over 4 documents: %d rows, want 4", len(got))
	}
}
