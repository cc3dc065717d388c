package cudamodel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mambakit/mambakit/framework/backbone"
)

// TestForwardCarryMatchesCPU: three chunks with the state carried across
// (and resets inside), against backbone's Forward with a State.
func TestForwardCarryMatchesCPU(t *testing.T) {
	d := openOrSkip(t)
	for i, v := range []struct {
		name    string
		ns      []string
		complex bool
	}{{"S6", nil, false}, {"complex-per-channel-B", []string{"B"}, true}} {
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
			cl, err := m.Forward(b, cst)
			if err != nil {
				t.Fatal(err)
			}
			gl, err := g.ForwardCarry(b, gst)
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
		}
		gst.Free()
		g.Close()
	}
}
