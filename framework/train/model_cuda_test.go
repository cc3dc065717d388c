package train

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/cuda"
)

// onGPU places m on GPU 0 through the model seam, or skips the test on a
// machine without a GPU.
func onGPU(t *testing.T, m *backbone.Model) Model {
	t.Helper()
	g, err := NewModel(m, nil, Placement{Device: CUDA})
	if errors.Is(err, cuda.ErrNoDriver) {
		t.Skip(err.Error())
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// TestSeamGPUMatchesCPU runs evaluation (plain and with answer marks),
// scoring and generation (greedy and sampled) through the model seam on
// the GPU and on the CPU: one Evaluate, one Score, one Generate for both.
func TestSeamGPUMatchesCPU(t *testing.T) {
	c := backbone.NewConfig(61, 32, 2)
	m, err := backbone.New(c, 9)
	if err != nil {
		t.Fatal(err)
	}
	g, cpu := onGPU(t, m), onCPU(m)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(3, 4))
	n := 2000
	data := &Data{Tokens: make([]int32, n), Start: make([]bool, n), UnitsPerToken: 1}
	for i := range data.Tokens {
		data.Tokens[i] = int32(1 + r.IntN(59))
		data.Start[i] = i == 0 || r.IntN(150) == 0
		if data.Start[i] {
			data.Tokens[i] = 0
		}
	}
	for _, task := range []bool{false, true} {
		if task {
			for i := range data.Tokens {
				if !data.Start[i] && r.IntN(60) == 0 {
					data.Tokens[i] = 60 // answer marker
				}
			}
			data.MarkAnswers(60)
		}
		for _, bl := range [][2]int{{4, 64}, {3, 100}} {
			want, err := Evaluate(ctx, cpu, data, bl[0], bl[1], 0)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Evaluate(ctx, g, data, bl[0], bl[1], 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("evaluate task %v B %d L %d: cpu %+v, gpu %+v", task, bl[0], bl[1], want, got)
			if got.Tokens != want.Tokens || !(math.Abs(got.NatsPerToken-want.NatsPerToken) <= 1e-5*want.NatsPerToken) || got.Answers != want.Answers {
				t.Errorf("evaluate task %v B %d L %d: GPU %+v, CPU %+v", task, bl[0], bl[1], got, want)
			}
			if want.Answers > 0 && !(math.Abs(got.Accuracy-want.Accuracy) <= 0.02) {
				t.Errorf("accuracy GPU %.4f, CPU %.4f", got.Accuracy, want.Accuracy)
			}
		}
	}

	seq := data.Tokens[:300]
	var cs, gs []float64
	for _, run := range []struct {
		m   Model
		dst *[]float64
	}{{cpu, &cs}, {g, &gs}} {
		if err := Score(ctx, run.m, seq, 64, func(_ int, lp float64) error { *run.dst = append(*run.dst, lp); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	worst := 0.0
	for i := range cs {
		worst = math.Max(worst, math.Abs(gs[i]-cs[i]))
	}
	t.Logf("score: %d positions, largest difference %.3g nats", len(cs), worst)
	if len(gs) != len(cs) || !(worst <= 1e-3) {
		t.Errorf("score: GPU %d positions, CPU %d; largest difference %.3g nats", len(gs), len(cs), worst)
	}

	for _, s := range []backbone.Sampling{
		{},
		{Temperature: 0.8, TopK: 20, Seed: 3, Vocab: 50},
		{Temperature: 1, Seed: 5, Stop: []int32{7, 8, 9}},
	} {
		want, err := Generate(cpu, []int32{1, 2, 3}, 50, s, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Generate(g, []int32{1, 2, 3}, 50, s, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("generate %+v: GPU %v, CPU %v", s, got, want)
		}
	}
}

// TestCUDATBPTTRunTracksCPU trains with the state carried across steps
// (tbptt) on the CPU and on the GPU, the GPU run interrupted by a resume
// from its checkpoint (which holds the carried state), and checks the
// loss curves agree.
func TestCUDATBPTTRunTracksCPU(t *testing.T) {
	if err := CUDA.Available(); errors.Is(err, cuda.ErrNoDriver) {
		t.Skip(err.Error())
	}
	c := testConfig(12)
	c.DModel, c.DState, c.TBPTT = 32, 8, true
	runsTrackCPU(t, c, "tbptt: ")
}
