package cudakernels

import (
	"encoding/binary"
	"slices"
	"strings"
	"testing"

	"github.com/mambakit/mambakit/framework/cuda"
)

// TestStepEmbedFeedback: StepEmbed with a row fed −1 takes the argmax of
// the step before from prev's key (a key of 0, no logit won: id 0),
// writes the ids of the step to the history row of its position (modulo
// StepHistory) and clears this step's keys, not prev's.
func TestStepEmbedFeedback(t *testing.T) {
	d := openOrSkip(t)
	const B, D, V = 4, 300, 50 // 1,200 elements: several blocks read prev
	table := make([]float32, V*D)
	for i := range table {
		table[i] = float32(i)
	}
	// Row 0 fed −1 after an argmax of 17, row 1 fed 4, row 2 fed −1
	// after no argmax (key 0), row 3 fed −1 after an argmax of 49.
	key := func(id int) uint64 { return 1<<63 | uint64(0xffffffff-uint32(id)) }
	prevKeys := []uint64{key(17), key(30), 0, key(49)}
	io := stepIO(B, nil, V)
	copy(io, []int32{-1, 4, -1, -1})
	io[2*B+1] = 37
	want := []int32{17, 4, 0, 49}
	for _, v := range []StepVariant{{}, {MaxRows: 1, Prefetch: true, Early: true}} {
		db := newDevBufs(t, d)
		keys, err := d.Alloc(16 * B) // this step's keys, then prev's
		if err != nil {
			t.Fatal(err)
		}
		db.bufs = append(db.bufs, keys)
		raw := make([]byte, 16*B)
		for b := range B {
			binary.LittleEndian.PutUint64(raw[8*b:], 0xdead)
			binary.LittleEndian.PutUint64(raw[8*(B+b):], prevKeys[b])
		}
		if err := keys.CopyFromBytes(raw); err != nil {
			t.Fatal(err)
		}
		hist := db.out(StepHistory * B)
		x := db.out(B * D)
		if err := d.StepEmbed(variantStream(t, d, v), v, x.Ptr(), db.in(table), db.ints(io), keys.Ptr(), keys.Ptr()+cuda.DevPtr(8*B), hist.Ptr(), B, D); err != nil {
			t.Fatal(err)
		}
		got := db.get(x, B*D)
		for b := range B {
			if !slices.Equal(got[b*D:(b+1)*D], table[int(want[b])*D:(int(want[b])+1)*D]) {
				t.Errorf("%v row %d: not the table's row %d", v, b, want[b])
			}
		}
		h := db.get(hist, StepHistory*B)
		for b := range B {
			if id := int32(f32bits(h[(37%StepHistory)*B+b : (37%StepHistory)*B+b+1])[0]); id != want[b] {
				t.Errorf("%v: history row %d, id of row %d: %d, want %d", v, 37%StepHistory, b, id, want[b])
			}
		}
		if err := keys.CopyToBytes(raw); err != nil {
			t.Fatal(err)
		}
		for b := range B {
			if k := binary.LittleEndian.Uint64(raw[8*b:]); k != 0 {
				t.Errorf("%v: this step's key of row %d not cleared: %#x", v, b, k)
			}
			if k := binary.LittleEndian.Uint64(raw[8*(B+b):]); k != prevKeys[b] {
				t.Errorf("%v: the step before's key of row %d changed: %#x", v, b, k)
			}
		}
	}
}

// TestStepEmbedChecks: the keys StepEmbed clears must not be the ones it
// reads; refused before a kernel is loaded.
func TestStepEmbedChecks(t *testing.T) {
	var d Device
	if err := d.StepEmbed(nil, StepVariant{}, 1, 1, 1, 64, 64, 0, 1, 1); err == nil || !strings.Contains(err.Error(), "the ones it reads") {
		t.Errorf("the same keys cleared and read: %v", err)
	}
}
