package train

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mambakit/mambakit/framework/backbone"
)

// TestScoreMatchesLoss checks that the per-token log-probabilities Score
// gives, read in chunks with the state carried, add up to the mean loss of
// one Forward over the whole sequence, and that every position is scored
// once, in order.
func TestScoreMatchesLoss(t *testing.T) {
	mc := backbone.NewConfig(11, 16, 2)
	mc.StateSize = 4
	m, err := backbone.New(mc, 3)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	tokens := make([]int32, 150)
	for i := range tokens {
		tokens[i] = int32(r.IntN(11))
	}
	n := len(tokens) - 1
	loss, err := m.Forward(&backbone.Batch{B: 1, L: n, Inputs: tokens[:n], Targets: tokens[1:]}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, L := range []int{1, 7, 64, 1000} {
		var sum float64
		next := 1
		err := Score(context.Background(), onCPU(m), tokens, L, func(pos int, logp float64) error {
			if pos != next {
				t.Fatalf("L %d: position %d scored, want %d", L, pos, next)
			}
			if logp > 0 || math.IsNaN(logp) {
				t.Fatalf("L %d: position %d: log-probability %v", L, pos, logp)
			}
			next++
			sum += logp
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if next != len(tokens) {
			t.Fatalf("L %d: %d positions scored, want %d", L, next-1, n)
		}
		if got := -sum / float64(n); math.Abs(got-loss) > 1e-5*loss {
			t.Errorf("L %d: mean −log p %.7f, loss %.7f", L, got, loss)
		}
	}
}
