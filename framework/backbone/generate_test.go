package backbone

import (
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
