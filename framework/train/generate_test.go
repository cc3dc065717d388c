package train

import (
	"slices"
	"testing"

	"github.com/mambakit/mambakit/framework/backbone"
)

// fewRows is a Model whose step takes at most rows rows, as a GPU's does.
type fewRows struct {
	Model
	rows int
}

func (f fewRows) StepRows() int { return f.rows }

// TestGenerateBatchInGroups: where the step takes fewer rows than there
// are prompts, the prompts go in groups and every row still gets its own
// seed (seed + its index among all prompts) and its emitted tokens under
// its own index: the same samples as one batch.
func TestGenerateBatchInGroups(t *testing.T) {
	bm, err := backbone.New(backbone.NewConfig(29, 16, 2), 3)
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewModel(bm, nil, Placement{Device: CPU})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	prompts := [][]int32{{1, 2}, {3}, {4, 5, 6}, {7}, {8, 9}}
	s := backbone.Sampling{Temperature: 1, Seed: 9, Vocab: 29}
	want, err := GenerateBatch(m, prompts, 12, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	emitted := make([][]int32, len(prompts))
	got, err := GenerateBatch(fewRows{m, 2}, prompts, 12, s, func(r int, id int32) error {
		emitted[r] = append(emitted[r], id)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(prompts) {
		t.Fatalf("%d samples for %d prompts", len(got), len(prompts))
	}
	for r := range prompts {
		if !slices.Equal(got[r], want[r]) {
			t.Errorf("row %d: in groups of 2 %v, in one batch %v", r, got[r], want[r])
		}
		if !slices.Equal(emitted[r], got[r][len(prompts[r]):]) {
			t.Errorf("row %d: emitted %v, returned %v", r, emitted[r], got[r][len(prompts[r]):])
		}
	}
	if _, err := GenerateBatch(m, nil, 4, s, nil); err == nil {
		t.Error("no prompts: no error")
	}
}
