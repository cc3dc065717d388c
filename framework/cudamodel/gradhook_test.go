package cudamodel

import (
	"testing"

	"github.com/mambakit/mambakit/framework/backbone"
)

// TestGradSpans checks, without a GPU, that bucketing blocks [0,2), [2,5)
// and the shared parameters covers every gradient element exactly once.
func TestGradSpans(t *testing.T) {
	for _, v := range []struct {
		ns      []string
		complex bool
	}{{nil, false}, {[]string{"B", "C"}, true}} {
		c := backbone.NewConfig(50, 16, 5)
		c.NonSelective, c.ComplexA = v.ns, v.complex
		m, err := backbone.New(c, 1)
		if err != nil {
			t.Fatal(err)
		}
		l := newLayout(m)
		covered := make([]int, len(m.Params.Data))
		var spans []GradSpan
		spans = append(spans, l.blockSpans(2, 5)...)
		spans = append(spans, l.blockSpans(0, 2)...)
		spans = append(spans, l.sharedSpans()...)
		for _, s := range spans {
			for i := s.Lo; i < s.Hi; i++ {
				covered[i]++
			}
		}
		for i, n := range covered {
			if n != 1 {
				t.Fatalf("%v: element %d covered %d times", v, i, n)
			}
		}
		if got := len(l.blockSpans(3, 3)); got != 0 {
			t.Fatalf("empty range gave %d spans", got)
		}
	}
}
