package cudamodel

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/mambakit/mambakit/framework/backbone"
)

// Generate is backbone.Model.Generate on the GPU: the prompt fed through a
// one-row Stepper (with a CUDA graph when capture works), then up to n
// tokens chosen as s says, emit (if non-nil) called with each. Greedy
// decoding takes the argmax on the device (8 bytes back per token);
// sampling copies the logits back and draws as the CPU does (the same
// generator and order of draws, so the same tokens for the same logits).
func (g *Model) Generate(prompt []int32, n int, s backbone.Sampling, emit func(int32) error) ([]int32, error) {
	st, err := g.NewStepper(1, true)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return st.Generate(prompt, n, s, emit)
}

// Generate runs backbone.Model.Generate's loop on a one-row Stepper,
// starting from a zero state.
func (st *Stepper) Generate(prompt []int32, n int, s backbone.Sampling, emit func(int32) error) ([]int32, error) {
	if st.B != 1 {
		return nil, fmt.Errorf("cudamodel: generate: the stepper has %d rows, want 1", st.B)
	}
	if len(prompt) == 0 {
		return nil, errors.New("cudamodel: generate: empty prompt")
	}
	if s.Temperature < 0 || s.TopK < 0 || s.TopP < 0 || s.TopP > 1 || math.IsNaN(s.Temperature) || math.IsNaN(s.TopP) {
		return nil, fmt.Errorf("cudamodel: generate: bad sampling settings %+v (want temperature ≥ 0, top-k ≥ 0, 0 ≤ top-p ≤ 1)", s)
	}
	V := st.g.Config.VocabSize
	st.Reset()
	st.SetVocabLimit(s.Vocab)
	out := append([]int32(nil), prompt...)
	for _, id := range prompt {
		if err := st.Step([]int32{id}); err != nil {
			return nil, err
		}
	}
	rng := rand.New(rand.NewPCG(s.Seed, 0x67656e)) // "gen", as backbone
	var logits []float32
	if s.Temperature != 0 {
		logits = make([]float32, V)
	}
	one := []int32{0}
	for i := 0; i < n; i++ {
		var id int32
		if s.Temperature == 0 {
			if err := st.Argmax(one); err != nil {
				return nil, err
			}
			id = one[0]
		} else {
			if err := st.Logits(logits); err != nil {
				return nil, err
			}
			id = backbone.Sample(logits[:st.vlimit], s, rng)
		}
		out = append(out, id)
		if emit != nil {
			if err := emit(id); err != nil {
				return out, err
			}
		}
		if slices.Contains(s.Stop, id) {
			break
		}
		if i+1 < n {
			if err := st.Step([]int32{id}); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}
