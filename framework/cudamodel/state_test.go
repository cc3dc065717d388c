package cudamodel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mambakit/mambakit/framework/backbone"
)

// carryVariants are the models the tests of a carried state run: real
// S6, and complex A with per-channel B.
var carryVariants = []struct {
	name    string
	ns      []string
	complex bool
}{{"S6", nil, false}, {"complex-per-channel-B", []string{"B"}, true}}

// TestCarriedStateMatchesCPU: three chunks with the state carried across
// (and resets inside), against backbone's Forward with a State: the loss,
// the logits, the gradients of each chunk (truncated backpropagation through
// time reads the state a chunk started from) and the state at the end,
// copied back to the host.
func TestCarriedStateMatchesCPU(t *testing.T) {
	d := openOrSkip(t)
	for i, v := range carryVariants {
		c := backbone.NewConfig(97, 48, 2)
		c.NonSelective, c.ComplexA = v.ns, v.complex
		m, err := backbone.New(c, uint64(30+i))
		if err != nil {
			t.Fatal(err)
		}
		g, err := New(d, m)
		if err != nil {
			t.Fatal(err)
		}
		gst, err := g.NewState(2)
		if err != nil {
			t.Fatal(err)
		}
		cst := m.NewState(2)
		r := rand.New(rand.NewPCG(uint64(i), 13))
		for k, L := range []int{50, 70, 33} {
			b := randomBatch(r, 2, L, c.VocabSize, true)
			m.ZeroGrad()
			if err := g.ZeroGrad(); err != nil {
				t.Fatal(err)
			}
			cl, err := m.Forward(b, cst)
			if err != nil {
				t.Fatal(err)
			}
			gl, err := g.Forward(b, gst)
			if err != nil {
				t.Fatal(err)
			}
			lg, err := g.Logits()
			if err != nil {
				t.Fatal(err)
			}
			shape := fmt.Sprintf("%s chunk %d L%d", v.name, k, L)
			report(t, "carry loss", shape, math.Abs(gl-cl)/math.Abs(cl), tolLoss)
			report(t, "carry logits", shape, relErr(lg, m.Logits()), tolLogits)
			if _, err := m.Backward(); err != nil {
				t.Fatal(err)
			}
			if err := g.Backward(); err != nil {
				t.Fatal(err)
			}
			gg, err := g.Grads()
			if err != nil {
				t.Fatal(err)
			}
			report(t, "carry grads", shape, relErr(gg.Data, m.Grads.Data), tolGrad)
			hs := m.NewState(2)
			if err := gst.CopyTo(hs); err != nil {
				t.Fatal(err)
			}
			report(t, "carry conv state", shape, relErr(hs.Conv, cst.Conv), tolLogits)
			report(t, "carry ssm state", shape, relErr(hs.SSM, cst.SSM), tolLogits)
		}
		// CopyFrom then CopyTo gives the host state back.
		if err := gst.CopyFrom(cst); err != nil {
			t.Fatal(err)
		}
		back := m.NewState(2)
		if err := gst.CopyTo(back); err != nil {
			t.Fatal(err)
		}
		if relErr(back.SSM, cst.SSM) != 0 || relErr(back.Conv, cst.Conv) != 0 {
			t.Errorf("%s: state CopyFrom/CopyTo does not round-trip", v.name)
		}
		gst.Free()
		g.Close()
	}
}
