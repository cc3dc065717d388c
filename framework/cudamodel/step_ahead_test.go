package cudamodel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/cudakernels"
)

// TestStepAheadMatchesSteps: StepAhead (each step fed its argmax of the
// step before on the device) gives the ids, and after them the logits,
// that Step and Argmax give one step at a time, bit for bit, on the same
// kernels: one row (the default kernels and the folded forms), three
// rows, and rows enough for cuBLAS; plain launches and graphs; runs of 7
// steps past the history's StepHistory positions. The model's in_proj
// and out_proj are drawn large, so its greedy path wanders (a fresh
// model's repeats one token, which would hide a step fed the wrong id).
func TestStepAheadMatchesSteps(t *testing.T) {
	d := openOrSkip(t)
	c := backbone.NewConfig(101, 64, 2)
	m, err := backbone.New(c, 31)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(31, 5))
	for _, f := range [][]float32{m.Params.OutProj, m.Params.InProj} {
		for i := range f {
			f[i] = float32(r.NormFloat64()) * 0.5
		}
	}
	g, err := New(d, m)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	type form struct {
		B int
		v cudakernels.StepVariant
	}
	forms := []form{{1, DefaultStepVariant(d, 1)}, {3, DefaultStepVariant(d, 3)}, {wideFrom(&c), DefaultStepVariant(d, wideFrom(&c))}}
	if d.Major >= 9 {
		for _, v := range foldVariants {
			if !v.PDL || d.PDLAvailable() == nil {
				forms = append(forms, form{1, v})
			}
		}
	}
	for _, f := range forms {
		for _, graphs := range []bool{false, true} {
			name := fmt.Sprintf("B%d %v graphs %v", f.B, f.v, graphs)
			ahead, err := g.NewStepperWith(f.B, StepOptions{Graphs: graphs, Variant: f.v})
			if err != nil {
				t.Fatal(err)
			}
			steps, err := g.NewStepperWith(f.B, StepOptions{Graphs: graphs, Variant: f.v})
			if err != nil {
				t.Fatal(err)
			}
			testStepAhead(t, name, f.B, c.VocabSize, ahead, steps)
			ahead.Close()
			steps.Close()
		}
	}
}

func testStepAhead(t *testing.T, name string, B, V int, ahead, steps *Stepper) {
	t.Helper()
	ids := make([]int32, B)
	for b := range ids {
		ids[b] = int32((3 + 17*b) % 97)
	}
	// A prompt step each, then runs of 7 from the same ids.
	for _, st := range []*Stepper{ahead, steps} {
		st.SetVocabLimit(97)
		if err := st.Step(ids); err != nil {
			t.Fatal(err)
		}
	}
	next := make([]int32, B)
	if err := steps.Argmax(next); err != nil {
		t.Fatal(err)
	}
	const k, runs = 7, 6
	got, want := make([]int32, k*B), make([]int32, 0, k*B)
	distinct := map[int32]bool{}
	for run := range runs {
		in := slices.Clone(next)
		if err := ahead.StepAhead(in, k, got); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want = want[:0]
		for range k {
			if err := steps.Step(next); err != nil {
				t.Fatal(err)
			}
			if err := steps.Argmax(next); err != nil {
				t.Fatal(err)
			}
			want = append(want, next...)
		}
		for _, id := range want {
			distinct[id] = true
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s run %d: ahead %v, step by step %v", name, run, got, want)
		}
	}
	if len(distinct) < 10 {
		t.Errorf("%s: the greedy path took only %d ids; the test needs one that wanders", name, len(distinct))
	}
	la, ls := make([]float32, B*V), make([]float32, B*V)
	if err := ahead.Logits(la); err != nil {
		t.Fatal(err)
	}
	if err := steps.Logits(ls); err != nil {
		t.Fatal(err)
	}
	for i := range la {
		if math.Float32bits(la[i]) != math.Float32bits(ls[i]) {
			t.Fatalf("%s: the last step's logits differ at %d: %g, %g", name, i, la[i], ls[i])
		}
	}
	if ahead.Position() != steps.Position() {
		t.Errorf("%s: position %d, step by step %d", name, ahead.Position(), steps.Position())
	}
}

// TestStepAheadChecksGPU: what the GPU StepAhead refuses.
func TestStepAheadChecksGPU(t *testing.T) {
	_, g := stepTestModel(t, 6)
	st, err := g.NewStepper(2, false)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, c := range []struct{ k, room int }{{0, 8}, {cudakernels.StepHistory + 1, 200}, {3, 5}} {
		if err := st.StepAhead([]int32{1, 2}, c.k, make([]int32, c.room)); err == nil {
			t.Errorf("k %d, room %d accepted", c.k, c.room)
		}
	}
}
