package backbone

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mambakit/mambakit/internal/floatbits"
)

// TestRecomputeSameBits: with SetRecompute the loss, the logits, every
// gradient, the gradient of the state the batch started from and the
// state it leaves are the same bits as without, for every variant, in
// fp32 and bf16, over chunks that carry the state (with document resets
// inside, and chunks longer than the scan's 64 steps), a batch from no
// state, and a model that switches recompute on and off between batches.
func TestRecomputeSameBits(t *testing.T) {
	forVariants(t, func(t *testing.T, v []string) {
		for _, prec := range []Precision{FP32, BF16} {
			var ms [2]*Model
			var sts [2]*State
			for k := range ms {
				ms[k] = testModelLayers(t, 23, 3, v...)
				ms[k].Precision = prec
				sts[k] = ms[k].NewState(2)
			}
			ms[1].SetRecompute(true)
			r := rand.New(rand.NewPCG(5, 17))
			for k, L := range []int{50, 130, 33, 70} {
				b := randomBatch(r, 2, L, ms[0].Config.VocabSize)
				b.Reset = make([]bool, b.B*L)
				for i := range b.Reset {
					b.Reset[i] = r.IntN(40) == 0
				}
				if k == 3 { // the other way round: new activations for both
					ms[0].SetRecompute(true)
					ms[1].SetRecompute(false)
				}
				shape := fmt.Sprintf("%s chunk %d L%d", prec, k, L)
				var loss [2]float64
				var logits, grads, dConv, dSSM, conv, ssm [2][]float32
				for j, m := range ms {
					st := sts[j]
					if k == 2 { // from no state
						st = nil
					}
					var err error
					if loss[j], err = m.Forward(b, st); err != nil {
						t.Fatal(err)
					}
					m.ZeroGrad()
					dst, err := m.Backward()
					if err != nil {
						t.Fatal(err)
					}
					if (dst == nil) != (st == nil) {
						t.Fatalf("%s: a state gradient %v, a state %v", shape, dst != nil, st != nil)
					}
					if dst != nil {
						dConv[j] = append([]float32(nil), dst.Conv...)
						dSSM[j] = append([]float32(nil), dst.SSM...)
					}
					logits[j] = append([]float32(nil), m.Logits()...)
					grads[j] = append([]float32(nil), m.Grads.Data...)
					conv[j], ssm[j] = append([]float32(nil), sts[j].Conv...), append([]float32(nil), sts[j].SSM...)
				}
				if math.Float64bits(loss[0]) != math.Float64bits(loss[1]) {
					t.Errorf("%s: loss %v, and %v with recompute switched the other way", shape, loss[1], loss[0])
				}
				for _, x := range []struct {
					what string
					v    [2][]float32
				}{{"logits", logits}, {"gradients", grads}, {"state gradient (conv)", dConv}, {"state gradient (SSM)", dSSM},
					{"conv state", conv}, {"SSM state", ssm}} {
					if n, at := floatbits.Diff(x.v[0], x.v[1]); n > 0 {
						t.Errorf("%s: %s: %d of %d differ, the first at %d: %v against %v", shape, x.what, n, len(x.v[0]), at, x.v[1][at], x.v[0][at])
					}
				}
			}
		}
	})
}

// TestRecomputeKeepsOneBlock: with recompute a model keeps one block's
// activations (and every block's input), and Hidden still reads each
// block's output.
func TestRecomputeKeepsOneBlock(t *testing.T) {
	ms := [2]*Model{testModelLayers(t, 3, 4), testModelLayers(t, 3, 4)}
	ms[1].SetRecompute(true)
	b := randomBatch(rand.New(rand.NewPCG(1, 2)), 2, 40, ms[0].Config.VocabSize)
	for _, m := range ms {
		if _, err := m.Forward(b, nil); err != nil {
			t.Fatal(err)
		}
	}
	c, M := &ms[0].Config, 2*40
	_, D, Din, _, _, _, nL := c.dims()
	full, one := ms[0].acts, ms[1].acts
	if len(full.u) != nL*M*Din || len(one.u) != M*Din || len(one.xn) != M*D || len(one.resid) != (nL+1)*M*D {
		t.Errorf("u %d and %d, xn %d, resid %d floats: want %d, %d, %d, %d", len(full.u), len(one.u), len(one.xn), len(one.resid), nL*M*Din, M*Din, M*D, (nL+1)*M*D)
	}
	for i := 0; i <= nL; i++ {
		if n, at := floatbits.Diff(ms[0].Hidden(i), ms[1].Hidden(i)); n > 0 {
			t.Errorf("Hidden(%d): %d differ, the first at %d", i, n, at)
		}
	}
}
