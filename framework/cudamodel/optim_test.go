package cudamodel

import (
	"math/rand/v2"
	"testing"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/internal/floatbits"
)

// TestGradScalesRecorded checks that recording the gradients' factors
// (ScaleGrads, ClipGrad) and applying them inside the gradient norm and
// AdamW gives the bits of scaling the gradients in place: two models from
// one start, accumulating two micro-batches a step, ScaleGrads(½) and a
// clip that binds, one applying each factor at once (settleGrads), for
// three steps, in fp32 and bf16. Then under bf16 the parameters' copy
// that AdamW wrote is the one paramsBF16 makes, and a Stepper made before
// the training steps gives the logits of one made after.
func TestGradScalesRecorded(t *testing.T) {
	c := backbone.NewConfig(128, 64, 2)
	ac := backbone.AdamWConfig{LR: 3e-3, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1}
	batches := patternBatches(rand.New(rand.NewPCG(9, 9)), c.VocabSize)
	for _, prec := range []backbone.Precision{backbone.FP32, backbone.BF16} {
		t.Run(string(prec), func(t *testing.T) {
			host, a := testModels(t, c, 3)
			b, err := New(a.Device(), host)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			for _, g := range []*Model{a, b} {
				if err := g.SetPrecision(prec); err != nil {
					t.Fatal(err)
				}
			}
			before, err := a.NewStepper(1, true)
			if err != nil {
				t.Fatal(err)
			}
			defer before.Close()
			if err := before.Step([]int32{7}); err != nil {
				t.Fatal(err)
			}
			for s := range 3 {
				var norms [2]float64
				for i, g := range []*Model{a, b} {
					settle := func() {
						if i == 1 {
							if err := g.settleGrads(); err != nil {
								t.Fatal(err)
							}
						}
					}
					if err := g.ZeroGrad(); err != nil {
						t.Fatal(err)
					}
					for k := range 2 {
						if _, err := g.Forward(batches[(2*s+k)%len(batches)], nil); err != nil {
							t.Fatal(err)
						}
						if err := g.Backward(); err != nil {
							t.Fatal(err)
						}
					}
					if err := g.ScaleGrads(0.5); err != nil {
						t.Fatal(err)
					}
					settle()
					if norms[i], err = g.ClipGrad(0.05); err != nil {
						t.Fatal(err)
					}
					settle()
					if i == 0 && len(g.gradScale) != 2 {
						t.Fatalf("step %d: %d factors recorded, want 2 (the mean and a binding clip)", s+1, len(g.gradScale))
					}
					if err := g.Step(ac, ac.LR); err != nil {
						t.Fatal(err)
					}
				}
				if norms[0] != norms[1] {
					t.Errorf("step %d: gradient norm %v recorded, %v in place", s+1, norms[0], norms[1])
				}
				if !(norms[0] > 0.05) {
					t.Errorf("step %d: gradient norm %v: the clip does not bind", s+1, norms[0])
				}
			}
			ga, err := a.Grads()
			if err != nil {
				t.Fatal(err)
			}
			gb, err := b.Grads()
			if err != nil {
				t.Fatal(err)
			}
			if n, at := floatbits.Diff(ga.Data, gb.Data); n > 0 {
				t.Errorf("gradients: %d differ, the first at %d", n, at)
			}
			pa, pb := backbone.NewParams(&c), backbone.NewParams(&c)
			for i, x := range []struct {
				g *Model
				p *backbone.Params
			}{{a, pa}, {b, pb}} {
				if err := x.g.params.CopyToF32(x.p.Data); err != nil {
					t.Fatalf("model %d: %v", i, err)
				}
			}
			if n, at := floatbits.Diff(pa.Data, pb.Data); n > 0 {
				t.Errorf("parameters after 3 steps: %d differ, the first at %d", n, at)
			}
			if prec != backbone.BF16 {
				return
			}
			if !a.b16.fresh {
				t.Fatal("bf16: the parameters' copy is out of date after Step")
			}
			want := make([]byte, 2*a.lay.total)
			got := make([]byte, 2*a.lay.total)
			if err := a.b16.params.CopyToBytes(got); err != nil {
				t.Fatal(err)
			}
			a.paramsChanged()
			if err := a.paramsBF16(); err != nil {
				t.Fatal(err)
			}
			if err := a.b16.params.CopyToBytes(want); err != nil {
				t.Fatal(err)
			}
			diff := 0
			for i := range got {
				if got[i] != want[i] {
					diff++
				}
			}
			if diff > 0 {
				t.Errorf("bf16: AdamW's copy of the parameters differs from ToBF16's in %d of %d bytes", diff, len(got))
			}
			after, err := a.NewStepper(1, true)
			if err != nil {
				t.Fatal(err)
			}
			defer after.Close()
			before.Reset()
			V := c.VocabSize
			lb, la := make([]float32, V), make([]float32, V)
			for _, id := range []int32{7, 3, 11} {
				if err := before.Step([]int32{id}); err != nil {
					t.Fatal(err)
				}
				if err := after.Step([]int32{id}); err != nil {
					t.Fatal(err)
				}
				if err := before.Logits(lb); err != nil {
					t.Fatal(err)
				}
				if err := after.Logits(la); err != nil {
					t.Fatal(err)
				}
				if n, at := floatbits.Diff(lb, la); n > 0 {
					t.Errorf("bf16: the Stepper made before training: %d of %d logits differ from a new one's, the first at %d", n, V, at)
				}
			}
		})
	}
}
