package markov

import (
	"context"
	"math"
	"testing"
)

// TestContextsStopAtDocuments: in "0 1 | 0 1" (two documents) an order-1
// model has seen 1 after 0 twice, and a document's first token is never
// scored, so each of the two scored positions has p = (2+½)/(2+½·V).
func TestContextsStopAtDocuments(t *testing.T) {
	tokens := []int32{0, 1, 0, 1}
	start := []bool{true, false, true, false}
	m, err := Fit(context.Background(), tokens, start, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	nats, n := m.Score(tokens, start, nil)
	want := -2 * math.Log(2.5/3.5)
	if n != 2 || math.Abs(nats-want) > 1e-12 {
		t.Fatalf("scored %d positions, %.6f nats; want 2, %.6f", n, nats, want)
	}
	// Answers: only the marked position is scored.
	if _, n := m.Score(tokens, start, []bool{false, false, false, true}); n != 1 {
		t.Fatalf("with answers: %d positions scored, want 1", n)
	}
}

func TestOrderBounds(t *testing.T) {
	if k := MaxOrder(4); k != 23 {
		t.Errorf("MaxOrder(4) = %d, want 23 (6^24 > 2^64 > 6^23)", k)
	}
	for _, order := range []int{-1, MaxOrder(11) + 1} {
		if _, err := Fit(context.Background(), []int32{0}, []bool{true}, 11, order); err == nil {
			t.Errorf("order %d accepted", order)
		}
	}
}
