package cudamodel

import (
	"testing"

	"github.com/mambakit/mambakit/framework/backbone"
)

// TestLayout checks, without a GPU, that the offsets read from the host
// views cover Params.Data exactly and that the AdamW spans follow the
// tensors' decay flags.
func TestLayout(t *testing.T) {
	for _, v := range []struct {
		ns      []string
		complex bool
	}{{nil, false}, {[]string{"B", "C"}, false}, {[]string{"delta"}, true}, {[]string{"B"}, true}} {
		c := backbone.NewConfig(50, 16, 3)
		c.NonSelective, c.ComplexA = v.ns, v.complex
		m, err := backbone.New(c, 1)
		if err != nil {
			t.Fatal(err)
		}
		l := newLayout(m)
		covered := make([]int, len(m.Params.Data))
		for _, f := range []field{l.embed, l.norm, l.inProj, l.convW, l.convB, l.xProj, l.dtW, l.dtB, l.aLog, l.dskip,
			l.outProj, l.normF, l.bParam, l.cParam, l.aImag, l.bImag, l.cImag} {
			for i := f.off; i < f.off+f.n; i++ {
				covered[i]++
			}
		}
		for i, n := range covered {
			if n != 1 {
				t.Fatalf("%v: element %d covered %d times", v, i, n)
			}
		}
		if l.bParam.n > 0 != (len(m.Params.BParam) > 0) || l.aImag.n != len(m.Params.AImag) {
			t.Fatalf("%v: optional fields wrong", v)
		}
		decay := make([]bool, len(m.Params.Data))
		for _, tn := range m.Params.Tensors(&m.Config) {
			f := offsetOf(m.Params, tn.Data)
			for i := f.off; i < f.off+f.n; i++ {
				decay[i] = tn.Decay
			}
		}
		next := 0
		for _, s := range l.spans {
			if s.lo != next {
				t.Fatalf("%v: span starts at %d, want %d", v, s.lo, next)
			}
			for i := s.lo; i < s.hi; i++ {
				if decay[i] != s.decay {
					t.Fatalf("%v: element %d decay %v, span says %v", v, i, decay[i], s.decay)
				}
			}
			next = s.hi
		}
		if next != len(m.Params.Data) {
			t.Fatalf("%v: spans end at %d of %d", v, next, len(m.Params.Data))
		}
		// The in-layer offset of layer i.
		if got, want := l.inProj.off+2*(l.inProj.n/3), offsetOf(m.Params, m.Params.InProj[2*len(m.Params.InProj)/3:]).off; got != want {
			t.Fatalf("layer offset %d, want %d", got, want)
		}
	}
}
