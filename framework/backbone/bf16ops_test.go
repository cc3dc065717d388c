package backbone

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestBF16PacksFollowParams: bf16 Forward and Backward read each weight
// from a pack made once after Forward begins, and activations shared by
// several products from one pack (bf16Ops). After the parameters change
// behind the model's back (not through AdamW), a model that has packed
// before gives the same loss, logits and gradients, bit for bit, as a new
// model on the same parameters: no stale pack is read, and sharing
// changes no product. Every variant runs, so each sharing site's check
// (the shared operand is the last product's) runs too.
func TestBF16PacksFollowParams(t *testing.T) {
	forVariants(t, func(t *testing.T, v []string) {
		m := testModel(t, 3, v...)
		m.Precision = BF16
		r := rand.New(rand.NewPCG(8, 9))
		b := randomBatch(r, 2, 40, m.Config.VocabSize)
		pass := func(m *Model) (float64, []float32, []float32) {
			t.Helper()
			loss, err := m.Forward(b, nil)
			if err != nil {
				t.Fatal(err)
			}
			m.ZeroGrad()
			if _, err := m.Backward(); err != nil {
				t.Fatal(err)
			}
			return loss, slices.Clone(m.Logits()), slices.Clone(m.Grads.Data)
		}
		pass(m)
		for i := range m.Params.Data {
			m.Params.Data[i] *= 1 + 0.01*float32(r.NormFloat64())
		}
		loss, logits, grads := pass(m)
		fresh := testModel(t, 3, v...)
		fresh.Precision = BF16
		copy(fresh.Params.Data, m.Params.Data)
		wantLoss, wantLogits, wantGrads := pass(fresh)
		if math.Float64bits(loss) != math.Float64bits(wantLoss) {
			t.Errorf("loss %v after the parameters changed, a new model gives %v", loss, wantLoss)
		}
		for name, p := range map[string][2][]float32{"logits": {logits, wantLogits}, "gradients": {grads, wantGrads}} {
			for i := range p[0] {
				if math.Float32bits(p[0][i]) != math.Float32bits(p[1][i]) {
					t.Fatalf("%s[%d] = %v after the parameters changed, a new model gives %v", name, i, p[0][i], p[1][i])
				}
			}
		}
	})
}

// TestBF16PackGradSameBits: the gradients packGrad converts once for
// their two products, and the activations packAct converts once for
// Forward's product and Backward's, give the same gradients, bit for bit,
// as converting each operand apart, and the products do read those packs.
func TestBF16PackGradSameBits(t *testing.T) {
	forVariants(t, func(t *testing.T, v []string) {
		r := rand.New(rand.NewPCG(10, 11))
		m := testModel(t, 3, v...)
		b := randomBatch(r, 2, 40, m.Config.VocabSize)
		pass := func(off bool) ([]float32, int) {
			t.Helper()
			m := testModel(t, 3, v...)
			m.Precision = BF16
			m.b16.preOff = off
			if _, err := m.Forward(b, nil); err != nil {
				t.Fatal(err)
			}
			m.ZeroGrad()
			if _, err := m.Backward(); err != nil {
				t.Fatal(err)
			}
			return slices.Clone(m.Grads.Data), m.b16.preHits
		}
		got, hits := pass(false)
		want, offHits := pass(true)
		if hits == 0 || offHits != 0 {
			t.Fatalf("products read %d packGrad packs (%d with packGrad off): want some (none)", hits, offHits)
		}
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("gradient[%d] = %v with packGrad, %v converting apart", i, got[i], want[i])
			}
		}
	})
}
