package train

import (
	"slices"
	"testing"
)

// TestDocEndPredictsNextDocument checks the targets across a document
// start: ignored by default; with SetDocEnd, the end token's target is the
// next document's first token in training batches, not in evaluation's,
// and the state is reset at the start either way.
func TestDocEndPredictsNextDocument(t *testing.T) {
	const end = 9
	// Two documents, each ended by the end token; the third has none.
	tokens := []int32{1, 2, end, 3, 4, end, 5, 6, 7}
	d := NewData(tokens, []int64{0, 3, 6}, 1)
	targets := func(crossEnd bool) ([]int32, []bool) {
		ld, err := NewLoader(d, 1, len(tokens)-1, true, 1)
		if err != nil {
			t.Fatal(err)
		}
		b := ld.NewBatch()
		d.fill(b, 0, 0, true, crossEnd)
		return b.Targets, b.Reset
	}
	reset := []bool{true, false, false, true, false, false, true, false}
	got, gotReset := targets(true)
	if want := []int32{2, end, -1, 4, end, -1, 6, 7}; !slices.Equal(got, want) || !slices.Equal(gotReset, reset) {
		t.Errorf("without SetDocEnd: targets %v, resets %v; want %v, %v", got, gotReset, want, reset)
	}
	d.SetDocEnd(end)
	got, gotReset = targets(true)
	if want := []int32{2, end, 3, 4, end, 5, 6, 7}; !slices.Equal(got, want) || !slices.Equal(gotReset, reset) {
		t.Errorf("training: targets %v, resets %v; want %v, %v", got, gotReset, want, reset)
	}
	if got, _ := targets(false); !slices.Equal(got, []int32{2, end, -1, 4, end, -1, 6, 7}) {
		t.Errorf("evaluation scores a document's first token: targets %v", got)
	}
	// The loader's batches (packed windows) carry the same targets.
	ld, err := NewLoader(d, 1, 4, false, 3)
	if err != nil {
		t.Fatal(err)
	}
	b := ld.NewBatch()
	seen := 0
	for range 20 {
		ld.Next(b)
		for i, x := range b.Inputs {
			if x != end {
				continue
			}
			if b.Targets[i] != 3 && b.Targets[i] != 5 {
				t.Fatalf("end token's target %d in batch %v → %v", b.Targets[i], b.Inputs, b.Targets)
			}
			seen++
		}
	}
	if seen == 0 {
		t.Fatal("no end token in 20 batches: the test saw nothing")
	}
}
