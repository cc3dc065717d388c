package cudamodel

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"unsafe"

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
			id = sample(logits[:st.vlimit], s, rng)
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

// sample is backbone's sampling of a temperature above 0 (a copy: the
// same arithmetic and draws): softmax at the temperature, top-k, top-p,
// one draw.
func sample(logits []float32, s backbone.Sampling, rng *rand.Rand) int32 {
	type cand struct {
		id int
		p  float64
	}
	cs := make([]cand, len(logits))
	mx := math.Inf(-1)
	for _, v := range logits {
		mx = math.Max(mx, float64(v)/s.Temperature)
	}
	var z float64
	for i, v := range logits {
		e := math.Exp(float64(v)/s.Temperature - mx)
		cs[i] = cand{i, e}
		z += e
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].p > cs[j].p })
	keep := len(cs)
	if s.TopK > 0 && s.TopK < keep {
		keep = s.TopK
	}
	if s.TopP > 0 && s.TopP < 1 {
		var cum float64
		for i := 0; i < keep; i++ {
			cum += cs[i].p / z
			if cum >= s.TopP {
				keep = i + 1
				break
			}
		}
	}
	var total float64
	for _, c := range cs[:keep] {
		total += c.p
	}
	r := rng.Float64() * total
	for _, c := range cs[:keep] {
		r -= c.p
		if r < 0 {
			return int32(c.id)
		}
	}
	return int32(cs[keep-1].id)
}

func f32Bytes(x []float32) []byte {
	if len(x) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&x[0])), 4*len(x))
}

func i32Bytes(x []int32) []byte {
	if len(x) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&x[0])), 4*len(x))
}
