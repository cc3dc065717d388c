package backbone

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestGenerateBatchMatchesRows checks that a batch gives, row by row, what
// one-row generation gives for that row's prompt and seed: prompts of
// different lengths sharing the steps, one with a document end inside (the
// row alone starts afresh), rows stopping early at a stop token while the
// others go on, greedy and sampled, on every SSM variant.
func TestGenerateBatchMatchesRows(t *testing.T) {
	forVariants(t, func(t *testing.T, v []string) {
		m := testModel(t, 21, v...)
		V := m.Config.VocabSize
		const end = 5
		prompts := [][]int32{{1, 2, 3}, {4}, {7, 9, end, 8, 3, 11}, {2, 2}}
		for _, s := range []Sampling{
			{Vocab: 29, DocEnds: []int32{end}},
			{Temperature: 1, Seed: 7, Vocab: 29, DocEnds: []int32{end}},
			{Temperature: 0.8, TopK: 6, TopP: 0.9, Seed: 3, Vocab: 29, DocEnds: []int32{end}},
		} {
			const n = 24
			// Row 1 stops at the fifth token it makes alone.
			one := s
			one.Seed = s.Seed + 1
			alone, err := m.Generate(prompts[1], n, one, nil)
			if err != nil {
				t.Fatal(err)
			}
			s.Stop = []int32{alone[len(prompts[1])+4]}
			var emitted [4][]int32
			got, err := GenerateBatch(m.NewStepper(len(prompts)), V, prompts, n, s, func(r int, id int32) error {
				emitted[r] = append(emitted[r], id)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for r, p := range prompts {
				one := s
				one.Seed = s.Seed + uint64(r)
				want, err := m.Generate(p, n, one, nil)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got[r], want) {
					t.Errorf("%+v row %d: batch %v, alone %v", s, r, got[r], want)
				}
				if !slices.Equal(emitted[r], got[r][len(p):]) {
					t.Errorf("%+v row %d: emitted %v, returned %v", s, r, emitted[r], got[r][len(p):])
				}
			}
			if len(got[1]) > len(prompts[1])+5 {
				t.Errorf("%+v: row 1 made %d tokens, want at most 5 (its stop token)", s, len(got[1])-len(prompts[1]))
			}
		}
	})
}

// TestGenerateBatchRowsStopApart checks the test above exercises rows that
// finish at different steps: with a stop token that one row meets early,
// that row ends and the others run to n.
func TestGenerateBatchRowsStopApart(t *testing.T) {
	m := testModel(t, 22)
	V := m.Config.VocabSize
	alone, err := m.Generate([]int32{3}, 10, Sampling{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	stop := alone[3] // row 0's third new token
	prompts := [][]int32{{3}, {3}, {3}}
	// Rows 1 and 2 get prompts whose greedy paths never meet stop.
	var others [][]int32
	for id := int32(0); id < 29 && len(others) < 2; id++ {
		out, err := m.Generate([]int32{id}, 10, Sampling{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(out[1:], stop) {
			others = append(others, []int32{id})
		}
	}
	if len(others) < 2 {
		t.Skip("every greedy path meets the stop token; the test model cannot show rows ending apart")
	}
	prompts[1], prompts[2] = others[0], others[1]
	got, err := GenerateBatch(m.NewStepper(3), V, prompts, 10, Sampling{Stop: []int32{stop}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := slices.Index(alone[1:], stop) + 2; len(got[0]) != want {
		t.Errorf("row 0: %d tokens %v, want %d (ending at stop %d)", len(got[0]), got[0], want, stop)
	}
	for r := 1; r < 3; r++ {
		if len(got[r]) != 11 {
			t.Errorf("row %d: %d tokens, want 11 (prompt and 10)", r, len(got[r]))
		}
	}
}

// TestResetRowClearsOneRow checks the CPU Stepper's ResetRow: the reset row
// continues as from a zero state, the other row as if nothing happened.
func TestResetRowClearsOneRow(t *testing.T) {
	forVariants(t, func(t *testing.T, v []string) {
		m := testModel(t, 23, v...)
		V := m.Config.VocabSize
		st := &lastLogits{Stepper: m.NewStepper(2), logits: make([]float32, 2*V)}
		for _, ids := range [][]int32{{1, 2}, {3, 4}, {5, 6}} {
			if err := st.Step(ids); err != nil {
				t.Fatal(err)
			}
		}
		st.ResetRow(0)
		if err := st.Step([]int32{7, 8}); err != nil {
			t.Fatal(err)
		}
		fresh := &lastLogits{Stepper: m.NewStepper(1), logits: make([]float32, V)}
		if err := fresh.Step([]int32{7}); err != nil {
			t.Fatal(err)
		}
		if d := maxRelDiff(st.logits[:V], fresh.logits); d > 1e-5 {
			t.Errorf("the reset row differs from a fresh start by %.2e", d)
		}
		kept := &lastLogits{Stepper: m.NewStepper(1), logits: make([]float32, V)}
		for _, id := range []int32{2, 4, 6, 8} {
			if err := kept.Step([]int32{id}); err != nil {
				t.Fatal(err)
			}
		}
		if d := maxRelDiff(st.logits[V:], kept.logits); d > 1e-5 {
			t.Errorf("the other row differs from its own history by %.2e", d)
		}
	})
}

func TestGenerateBatchErrors(t *testing.T) {
	m := testModel(t, 24)
	V := m.Config.VocabSize
	for _, c := range []struct {
		prompts [][]int32
		n       int
		want    string
	}{
		{nil, 4, "no prompts"},
		{[][]int32{{1}, {}}, 4, "prompt of row 1 is empty"},
		{[][]int32{{1}}, 0, "0 tokens"},
		{[][]int32{{1}, {2}}, 4, "rows"}, // a one-row stepper for two prompts
	} {
		_, err := GenerateBatch(m.NewStepper(1), V, c.prompts, c.n, Sampling{}, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v, n %d: error %v, want one that says %q", c.prompts, c.n, err, c.want)
		}
	}
}

// countAhead counts a Stepper's StepAhead calls.
type countAhead struct {
	Stepper
	calls int
}

func (c *countAhead) StepAhead(ids []int32, k int, dst []int32) error {
	c.calls++
	return c.Stepper.StepAhead(ids, k, dst)
}

// hashStepper is a stand-in model for generation's bookkeeping whose
// greedy path wanders (a random model's tends to repeat one token): each
// row's argmax is a hash of the tokens fed since its last reset.
type hashStepper struct {
	h      []uint64
	vlimit int
}

func newHashStepper(B int) *hashStepper { return &hashStepper{h: make([]uint64, B), vlimit: 29} }

func (s *hashStepper) Reset()         { clear(s.h) }
func (s *hashStepper) ResetRow(b int) { s.h[b] = 0 }
func (s *hashStepper) SetVocabLimit(v int) {
	if v <= 0 || v > 29 {
		v = 29
	}
	s.vlimit = v
}
func (s *hashStepper) Step(ids []int32) error {
	for b, id := range ids {
		s.h[b] = (s.h[b]+uint64(id)+1)*0x9e3779b97f4a7c15 + 7
	}
	return nil
}
func (s *hashStepper) Logits(dst []float32) error { return errors.New("greedy only") }
func (s *hashStepper) Argmax(dst []int32) error {
	for b, h := range s.h {
		dst[b] = int32((h >> 29) % uint64(s.vlimit))
	}
	return nil
}
func (s *hashStepper) StepAhead(ids []int32, k int, dst []int32) error {
	return stepAhead(s, len(s.h), ids, k, dst)
}
func (s *hashStepper) Close() error { return nil }

// greedyByHand is greedy generation of one row written out step by step
// (Step, Argmax; a reset after a document end): what GenerateBatch's
// steps run ahead must give.
func greedyByHand(t *testing.T, st Stepper, prompt []int32, n int, s Sampling) []int32 {
	t.Helper()
	st.Reset()
	st.SetVocabLimit(s.Vocab)
	out := slices.Clone(prompt)
	feed, prev, fed := prompt[0], int32(-1), 1
	id := make([]int32, 1)
	for made := 0; made < n; {
		if prev >= 0 && slices.Contains(s.DocEnds, prev) {
			st.ResetRow(0)
		}
		if err := st.Step([]int32{feed}); err != nil {
			t.Fatal(err)
		}
		prev = feed
		if fed < len(prompt) {
			feed, fed = prompt[fed], fed+1
			continue
		}
		if err := st.Argmax(id); err != nil {
			t.Fatal(err)
		}
		out = append(out, id[0])
		made++
		if slices.Contains(s.Stop, id[0]) {
			break
		}
		feed = id[0]
	}
	return out
}

// TestGenerateAheadMatchesStepByStep: greedy generation, which runs steps
// ahead (StepAhead) once the prompt is in, gives the tokens of greedy
// decoding step by step: across several runs of MaxAhead steps, ending
// at a stop token inside a run, with a document end generated inside a
// run (the steps after it are dropped and the row restarts), with a
// document end in the prompt, and for several rows ending apart; on a
// stand-in whose greedy path wanders, and on a model.
func TestGenerateAheadMatchesStepByStep(t *testing.T) {
	prompt := []int32{3, 1, 4}
	const n = 2*MaxAhead + 7
	free := greedyByHand(t, newHashStepper(1), prompt, n, Sampling{})
	gen := free[len(prompt):]
	cases := []struct {
		name string
		s    Sampling
		p    []int32
	}{
		{"runs of MaxAhead", Sampling{}, prompt},
		{"a vocabulary limit", Sampling{Vocab: 11}, prompt},
		{"stop inside a run", Sampling{Stop: []int32{gen[MaxAhead+3]}}, prompt},
		{"document end inside a run", Sampling{DocEnds: []int32{gen[5]}}, prompt},
		{"document end in the prompt", Sampling{DocEnds: []int32{1}}, prompt},
	}
	for _, c := range cases {
		want := greedyByHand(t, newHashStepper(1), c.p, n, c.s)
		st := &countAhead{Stepper: newHashStepper(1)}
		got, err := GenerateWith(st, 29, c.p, n, c.s, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: %v, step by step %v", c.name, got, want)
		}
		if st.calls == 0 {
			t.Errorf("%s: no steps were run ahead", c.name)
		}
	}
	if slices.Equal(greedyByHand(t, newHashStepper(1), prompt, n, cases[3].s), free) {
		t.Errorf("the document end %d did not change the greedy path %v", cases[3].s.DocEnds[0], free)
	}
	// Rows ending apart (a stop that row 0 meets early), run ahead together.
	s := Sampling{Stop: []int32{gen[2]}}
	prompts := [][]int32{prompt, {5}, {7, 7}}
	st := &countAhead{Stepper: newHashStepper(len(prompts))}
	got, err := GenerateBatch(st, 29, prompts, n, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	for r, p := range prompts {
		if want := greedyByHand(t, newHashStepper(1), p, n, s); !slices.Equal(got[r], want) {
			t.Errorf("row %d of 3: %v, step by step %v", r, got[r], want)
		}
	}
	if st.calls == 0 {
		t.Error("three rows: no steps were run ahead")
	}
	if len(got[0]) > len(prompt)+3 {
		t.Errorf("row 0 made %d tokens, want at most 3 (its stop token)", len(got[0])-len(prompt))
	}
	// A model (the CPU Stepper's StepAhead).
	m := testModel(t, 25)
	want := greedyByHand(t, m.NewStepper(1), prompt, n, Sampling{Vocab: 29})
	if got, err := m.Generate(prompt, n, Sampling{Vocab: 29}, nil); err != nil || !slices.Equal(got, want) {
		t.Errorf("model: %v (%v), step by step %v", got, err, want)
	}
}

// TestStepAheadChecks: StepAhead's bounds.
func TestStepAheadChecks(t *testing.T) {
	m := testModel(t, 26)
	st := m.NewStepper(2)
	for _, c := range []struct {
		k, room int
		want    string
	}{{0, 4, "want 1.."}, {MaxAhead + 1, 2 * (MaxAhead + 1), "want 1.."}, {3, 5, "want k·B = 6"}} {
		if err := st.StepAhead([]int32{1, 2}, c.k, make([]int32, c.room)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("k %d, room %d: %v; want an error containing %q", c.k, c.room, err, c.want)
		}
	}
}
