package backbone

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
)

// Sampling chooses how Generate picks each token. Temperature 0 is greedy
// (argmax, ties to the lowest id). Otherwise logits are divided by
// Temperature, then only the TopK most likely tokens (0: all) and the
// smallest set whose probability reaches TopP (0 or 1: all) are kept, and
// one is drawn with a PCG generator seeded with Seed (row r of a batch:
// Seed + r). Vocab > 0 limits the
// choice to ids below it: the padding rows of a vocabulary padded to a
// multiple of 8 are never produced. Generation ends early after any token
// in Stop (an end-of-document token). A token that follows one in DocEnds
// (the end-of-document tokens, stopping or not) is fed from a zero state,
// as training resets the state at every document start: a prompt of one
// end-of-document token starts a new document.
type Sampling struct {
	Temperature float64
	TopK        int
	TopP        float64
	Seed        uint64
	Vocab       int
	Stop        []int32
	DocEnds     []int32
}

// Generate is GenerateWith on the CPU Stepper of m.
func (m *Model) Generate(prompt []int32, n int, s Sampling, emit func(int32) error) ([]int32, error) {
	return GenerateWith(m.NewStepper(1), m.Config.VocabSize, prompt, n, s, emit)
}

// GenerateWith is GenerateBatch for one prompt, on a one-row Stepper of a
// model of vocabulary V: it returns the prompt followed by the new tokens.
func GenerateWith(st Stepper, V int, prompt []int32, n int, s Sampling, emit func(int32) error) ([]int32, error) {
	var each func(int, int32) error
	if emit != nil {
		each = func(_ int, id int32) error { return emit(id) }
	}
	out, err := GenerateBatch(st, V, [][]int32{prompt}, n, s, each)
	if len(out) == 0 {
		return nil, err
	}
	return out[0], err
}

// GenerateBatch continues several prompts at once, prompt r in row r of st
// (a Stepper of len(prompts) rows of a model of vocabulary V), every row
// from a zero state: each step feeds every row one token, the next of its
// prompt or the one it chose last, so prompts of different lengths share
// the steps and a row starts choosing as soon as its prompt is in. A row
// produces up to n tokens (fewer when one in s.Stop comes), calling emit
// (if non-nil) with its index and each token as it is chosen; a finished
// row idles (its input repeated, or in greedy steps run ahead its own
// argmax; its output ignored) until all are done.
// Row r returns its prompt followed by its new tokens.
//
// Row r samples with the seed s.Seed + r, so it gives what GenerateWith
// gives for prompts[r] with that seed (the same tokens for the same
// logits; rows of one step may round differently from one row alone).
// Memory is constant in the length. Greedy decoding asks the stepper for
// the argmax (on a GPU, 8 bytes back per row and token), and once every
// prompt is in runs up to MaxAhead steps at a time with StepAhead, so a
// GPU does not wait for the host between them (aheadSteps says when);
// sampling copies
// the logits and draws with Sample, so every device gives the same tokens
// for the same logits.
func GenerateBatch(st Stepper, V int, prompts [][]int32, n int, s Sampling, emit func(row int, id int32) error) ([][]int32, error) {
	B := len(prompts)
	if B == 0 {
		return nil, errors.New("backbone: generate: no prompts")
	}
	for r, p := range prompts {
		if len(p) == 0 {
			if B == 1 {
				return nil, errors.New("backbone: generate: empty prompt")
			}
			return nil, fmt.Errorf("backbone: generate: the prompt of row %d is empty", r)
		}
	}
	if n < 1 {
		return nil, fmt.Errorf("backbone: generate: %d tokens to generate, want ≥ 1", n)
	}
	if s.Temperature < 0 || s.TopK < 0 || s.TopP < 0 || s.TopP > 1 || math.IsNaN(s.Temperature) || math.IsNaN(s.TopP) {
		return nil, fmt.Errorf("backbone: generate: bad sampling settings %+v (want temperature ≥ 0, top-k ≥ 0, 0 ≤ top-p ≤ 1)", s)
	}
	st.SetVocabLimit(s.Vocab)
	st.Reset()
	out := make([][]int32, B)
	for r, p := range prompts {
		out[r] = append(make([]int32, 0, len(p)+n), p...)
	}
	var (
		next   = make([]int32, B) // each row's input to the coming step
		prev   = make([]int32, B) // and to the step before
		fed    = make([]int, B)   // prompt tokens fed so far
		made   = make([]int, B)   // tokens chosen so far
		done   = make([]bool, B)
		choice = make([]int32, B)
		rngs   = make([]*rand.Rand, B)
		logits []float32
	)
	if s.Temperature != 0 {
		logits = make([]float32, B*V)
		for r := range rngs {
			rngs[r] = rand.New(rand.NewPCG(s.Seed+uint64(r), 0x67656e)) // "gen"
		}
	}
	choose := V
	if s.Vocab > 0 && s.Vocab < V {
		choose = s.Vocab
	}
	for r, p := range prompts {
		next[r], fed[r] = p[0], 1
	}
	// take makes each row's choice of the step just run (choice, or a
	// draw from the logits), or feeds the next token of its prompt.
	left := B
	take := func(choice []int32) error {
		for r := range B {
			if done[r] {
				continue
			}
			if fed[r] < len(prompts[r]) {
				next[r] = prompts[r][fed[r]]
				fed[r]++
				continue
			}
			id := choice[r]
			if s.Temperature != 0 {
				id = Sample(logits[r*V:r*V+choose], s, rngs[r])
			}
			out[r] = append(out[r], id)
			made[r]++
			if emit != nil {
				if err := emit(r, id); err != nil {
					return err
				}
			}
			if made[r] == n || slices.Contains(s.Stop, id) {
				done[r] = true
				left--
				continue
			}
			next[r] = id
		}
		return nil
	}
	var ahead []int32 // greedy steps run ahead (StepAhead), step by step
	for step := 0; left > 0; step++ {
		// A token after a document end is fed from a zero state, as
		// training resets the state at every document start.
		for r := range B {
			if step > 0 && !done[r] && slices.Contains(s.DocEnds, prev[r]) {
				st.ResetRow(r)
			}
		}
		copy(prev, next)
		if k := aheadSteps(s, B, prompts, fed, made, done, n); k > 1 {
			// Once every prompt is in, greedy steps run ahead: the
			// device feeds each row its own argmax k − 1 times. A
			// document end among them (one row only: aheadSteps) leaves
			// the steps after the one that fed it unused; the loop's
			// next turn resets the row and feeds the token that followed
			// it, as it would have step by step.
			ahead = slices.Grow(ahead[:0], k*B)[:k*B]
			if err := st.StepAhead(next, k, ahead); err != nil {
				return nil, err
			}
			for j := 0; j < k && left > 0; j++ {
				if j > 0 {
					if slices.Contains(s.DocEnds, prev[0]) {
						break
					}
					copy(prev, next)
					step++
				}
				if err := take(ahead[j*B : (j+1)*B]); err != nil {
					return out, err
				}
			}
			continue
		}
		if err := st.Step(next); err != nil {
			return nil, err
		}
		if s.Temperature == 0 {
			if err := st.Argmax(choice); err != nil {
				return nil, err
			}
		} else if err := st.Logits(logits); err != nil {
			return nil, err
		}
		if err := take(choice); err != nil {
			return out, err
		}
	}
	return out, nil
}

// aheadSteps is how many greedy steps GenerateBatch runs ahead
// (StepAhead) from here: up to MaxAhead, no more than a row still needs,
// once every prompt is in; 0 (step by step) when sampling, or when rows
// may end a document (s.DocEnds) and there is more than one row (steps
// after a document end must restart that row, which the steps run ahead
// do not, and the other rows' states would have moved on).
func aheadSteps(s Sampling, B int, prompts [][]int32, fed, made []int, done []bool, n int) int {
	if s.Temperature != 0 || (B > 1 && len(s.DocEnds) > 0) {
		return 0
	}
	k := 0
	for r := range B {
		if done[r] {
			continue
		}
		if fed[r] < len(prompts[r]) {
			return 0
		}
		k = max(k, n-made[r])
	}
	return min(k, MaxAhead)
}

// Sample picks a token from one row of logits as Generate does: the
// argmax at temperature 0, else a draw from the softmax at the temperature
// restricted to the top-k tokens and then to the smallest set of them
// whose probability reaches top-p. GenerateWith draws through it on every
// device, so all give the same tokens for the same seed.
func Sample(logits []float32, s Sampling, rng *rand.Rand) int32 {
	if s.Temperature == 0 {
		best := 0
		for i, v := range logits {
			if v > logits[best] {
				best = i
			}
		}
		return int32(best)
	}
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
