package cudamodel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/internal/floatbits"
)

// TestRecomputeSameBits: with SetRecompute the loss, the logits, every
// gradient and the carried state are the same bits as without, for the
// real and complex (per-channel B) models, in fp32 and bf16, over chunks
// that carry the state (with resets inside) and one batch from a zero
// state; and a model that switches recompute on and off between batches
// still gives the same bits.
func TestRecomputeSameBits(t *testing.T) {
	d := openOrSkip(t)
	for i, v := range carryVariants {
		for _, prec := range []backbone.Precision{backbone.FP32, backbone.BF16} {
			c := backbone.NewConfig(97, 48, 3)
			c.NonSelective, c.ComplexA = v.ns, v.complex
			m, err := backbone.New(c, uint64(40+i))
			if err != nil {
				t.Fatal(err)
			}
			// One model for each setting, the same parameters.
			var gs [2]*Model
			var sts [2]*State
			for k := range gs {
				if gs[k], err = New(d, m); err != nil {
					t.Fatal(err)
				}
				defer gs[k].Close()
				if err := gs[k].SetPrecision(prec); err != nil {
					t.Fatal(err)
				}
				if sts[k], err = gs[k].NewState(2); err != nil {
					t.Fatal(err)
				}
				defer sts[k].Free()
			}
			gs[1].SetRecompute(true)
			r := rand.New(rand.NewPCG(uint64(i), 17))
			for k, L := range []int{50, 70, 33, 40} {
				b := randomBatch(r, 2, L, c.VocabSize, true)
				if k == 3 { // the one with recompute off again (new activations), the other on
					gs[0].SetRecompute(true)
					gs[1].SetRecompute(false)
				}
				shape := fmt.Sprintf("%s %s chunk %d L%d", v.name, prec, k, L)
				var loss [2]float64
				var logits, grads, conv, ssm [2][]float32
				for j, g := range gs {
					st := sts[j]
					if k == 2 { // a batch from a zero state
						st = nil
					}
					if loss[j], err = g.Forward(b, st); err != nil {
						t.Fatal(err)
					}
					if err := g.ZeroGrad(); err != nil {
						t.Fatal(err)
					}
					if err := g.Backward(); err != nil {
						t.Fatal(err)
					}
					if logits[j], err = g.Logits(); err != nil {
						t.Fatal(err)
					}
					p, err := g.Grads()
					if err != nil {
						t.Fatal(err)
					}
					grads[j] = p.Data
					hs := m.NewState(2)
					if err := sts[j].CopyTo(hs); err != nil {
						t.Fatal(err)
					}
					conv[j], ssm[j] = hs.Conv, hs.SSM
				}
				if math.Float64bits(loss[0]) != math.Float64bits(loss[1]) {
					t.Errorf("%s: loss %v with recompute, %v without", shape, loss[1], loss[0])
				}
				for _, x := range []struct {
					what string
					v    [2][]float32
				}{{"logits", logits}, {"gradients", grads}, {"conv state", conv}, {"SSM state", ssm}} {
					if n, at := floatbits.Diff(x.v[0], x.v[1]); n > 0 {
						t.Errorf("%s: %s: %d of %d differ from recompute's, the first at %d: %v against %v",
							shape, x.what, n, len(x.v[0]), at, x.v[1][at], x.v[0][at])
					}
				}
			}
		}
	}
}
