package train

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mambakit/mambakit/framework/backbone"
)

// stepModel is a small model, its optimizer, and three micro-batches of
// random tokens.
func stepModel(t *testing.T) (*backbone.Model, *backbone.AdamW, []*backbone.Batch) {
	t.Helper()
	cfg := backbone.NewConfig(40, 16, 2)
	cfg.StateSize = 4
	m, err := backbone.New(cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	var bs []*backbone.Batch
	for range 3 {
		b := &backbone.Batch{B: 2, L: 9, Inputs: make([]int32, 18), Targets: make([]int32, 18)}
		for i := range b.Inputs {
			b.Inputs[i], b.Targets[i] = int32(r.IntN(40)), int32(r.IntN(40))
		}
		bs = append(bs, b)
	}
	return m, backbone.NewAdamW(m, backbone.AdamWConfig{LR: 1e-2, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1}), bs
}

// TestStepIsTheLoopWrittenOut: a step of three micro-batches is their
// forward and backward passes, the mean, the clip and AdamW, bit for bit,
// with its phases marked in order; a clip of 0 is none.
func TestStepIsTheLoopWrittenOut(t *testing.T) {
	for _, clip := range []float64{0.05, 0} {
		m, opt, bs := stepModel(t)
		want, wopt, _ := stepModel(t)
		var marks []Phase
		s := &Step{Accum: 3, Clip: clip, Mark: func(p Phase) { marks = append(marks, p) },
			Batch: func(a int) (*backbone.Batch, error) { return bs[a], nil }}
		loss, norm, err := s.Run(&cpuModel{m: m, opt: opt}, 1e-2)
		if err != nil {
			t.Fatal(err)
		}
		want.ZeroGrad()
		var wloss float64
		for _, b := range bs {
			l, err := want.Forward(b, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := want.Backward(); err != nil {
				t.Fatal(err)
			}
			wloss += l / 3
		}
		want.ScaleGrads(float32(1.0 / 3))
		wnorm := want.GradNorm()
		if clip > 0 {
			if wnorm <= clip {
				t.Fatalf("norm %v: the test wants one the clip %v cuts", wnorm, clip)
			}
			want.ScaleGrads(float32(clip / wnorm))
		}
		wopt.Step(1e-2)
		if loss != wloss || norm != wnorm {
			t.Errorf("clip %v: loss %v, norm %v; written out %v, %v", clip, loss, norm, wloss, wnorm)
		}
		if !slices.Equal(m.Params.Data, want.Params.Data) {
			t.Errorf("clip %v: the parameters differ from the loop written out", clip)
		}
		F, B := PhaseForward, PhaseBackward
		if w := []Phase{F, B, F, B, F, B, PhaseOptimizer, PhaseDone}; !slices.Equal(marks, w) {
			t.Errorf("marks %v, want %v", marks, w)
		}
	}
}

// TestStepNonFinite: a step whose loss is not finite leaves the
// parameters and the optimizer as they were and says why.
func TestStepNonFinite(t *testing.T) {
	m, opt, bs := stepModel(t)
	m.Params.Data[0] = float32(math.NaN()) // the first embedding row
	bs[1].Inputs[0] = 0
	before := slices.Clone(m.Params.Data)
	s := &Step{Accum: 2, Clip: 1, Batch: func(a int) (*backbone.Batch, error) { return bs[a], nil }}
	_, _, err := s.Run(&cpuModel{m: m, opt: opt}, 1e-2)
	if !errors.Is(err, ErrNonFinite) {
		t.Fatalf("want ErrNonFinite, got %v", err)
	}
	if opt.T != 0 || !slices.EqualFunc(m.Params.Data, before, func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }) {
		t.Error("the step changed the parameters")
	}
	// A batch that fails stops the step before the optimizer.
	bad := errors.New("no tokens left")
	s.Batch = func(int) (*backbone.Batch, error) { return nil, bad }
	if _, _, err := s.Run(&cpuModel{m: m, opt: opt}, 1e-2); !errors.Is(err, bad) || opt.T != 0 {
		t.Errorf("a failed batch: %v, %d optimizer steps", err, opt.T)
	}
}
