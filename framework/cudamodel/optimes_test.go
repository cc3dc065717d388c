package cudamodel

import (
	"math/rand/v2"
	"testing"

	"github.com/mambakit/mambakit/framework/backbone"
)

// TestOpTimes: with op timing on, a forward and backward give the same
// loss and gradients as with it off, and OpTimes names each kind of
// operation once a layer (the products twice for in_proj's halves), with
// a positive time; a second call returns nothing new.
func TestOpTimes(t *testing.T) {
	c := backbone.NewConfig(128, 64, 3)
	_, g := testModels(t, c, 5)
	b := patternBatches(rand.New(rand.NewPCG(4, 4)), c.VocabSize)[0]
	pass := func() (float64, []float32) {
		t.Helper()
		loss := forwardBackward(t, g, b)
		gr, err := g.Grads()
		if err != nil {
			t.Fatal(err)
		}
		return loss, gr.Data
	}
	for _, p := range []backbone.Precision{backbone.FP32, backbone.BF16} {
		if err := g.SetPrecision(p); err != nil {
			t.Fatal(err)
		}
		l0, g0 := pass()
		if err := g.TimeOps(true); err != nil {
			t.Fatal(err)
		}
		l1, g1 := pass()
		if l0 != l1 {
			t.Errorf("%s: loss %v with timing, %v without", p, l1, l0)
		}
		for i := range g0 {
			if g0[i] != g1[i] {
				t.Fatalf("%s: gradient %d: %v with timing, %v without", p, i, g1[i], g0[i])
			}
		}
		ts, err := g.OpTimes()
		if err != nil {
			t.Fatal(err)
		}
		want := map[[2]string]int{
			{"forward", "scan"}: c.NumHiddenLayers, {"forward", "in_proj"}: 2 * c.NumHiddenLayers, {"forward", "head"}: 1,
			{"forward", "cross-entropy"}: 1, {"backward", "scan"}: c.NumHiddenLayers, {"backward", "in_proj dW"}: 2 * c.NumHiddenLayers,
			{"backward", "embedding"}: 1,
		}
		seen := map[[2]string]bool{}
		for _, x := range ts {
			k := [2]string{x.Pass, x.Name}
			if seen[k] {
				t.Errorf("%s: %s %s twice", p, x.Pass, x.Name)
			}
			seen[k] = true
			if !(x.Ms > 0) {
				t.Errorf("%s: %s %s: %v ms", p, x.Pass, x.Name, x.Ms)
			}
			if n, ok := want[k]; ok && x.Count != n {
				t.Errorf("%s: %s %s: %d launches, want %d", p, x.Pass, x.Name, x.Count, n)
			}
			t.Logf("%s %-9s %-22s %8.3f ms %3d", p, x.Pass, x.Name, x.Ms, x.Count)
		}
		if p == backbone.BF16 && !seen[[2]string{"forward", "to_bf16 (operands)"}] {
			t.Errorf("%s: no forward to_bf16 (operands)", p)
		}
		for k := range want {
			if !seen[k] {
				t.Errorf("%s: no %s %s", p, k[0], k[1])
			}
		}
		if ts, err := g.OpTimes(); err != nil || len(ts) != 0 {
			t.Errorf("%s: a second OpTimes: %d ops, %v", p, len(ts), err)
		}
		if err := g.TimeOps(false); err != nil {
			t.Fatal(err)
		}
	}
}
