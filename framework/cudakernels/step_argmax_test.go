package cudakernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestStepArgmaxRows: step_argmax_rows against the host's argmax below
// the vocabulary limit (ties to the lowest id, NaN never winning, a row
// of NaNs leaving its slot 0), rows split among one or more blocks, in
// float4 loads (V a multiple of 4) and not; a slot holding a larger key
// before keeps it.
func TestStepArgmaxRows(t *testing.T) {
	d := openOrSkip(t)
	for _, v := range []StepVariant{{}, {Prefetch: true}} {
		for i, c := range []struct{ B, V, limit int }{
			{9, 50280, 50277}, {256, 50280, 50280}, {20, 1001, 1001}, {33, 4099, 3000}, {12, 7, 9}, {300, 8192, 5000},
		} {
			name := fmt.Sprintf("%v B%d V%d limit %d", v, c.B, c.V, c.limit)
			r := rand.New(rand.NewPCG(uint64(i), 31))
			B, V := c.B, c.V
			logits := rnd(r, B*V, -8, 8)
			lim := min(c.limit, V)
			for b := 0; b < B; b++ {
				row := logits[b*V : (b+1)*V]
				switch b % 4 {
				case 1: // a tie: the row's largest value again at a later id
					j := 0
					for k, x := range row[:lim] {
						if x > row[j] {
							j = k
						}
					}
					row[j] = 9
					row[lim-1] = 9
					if lim > 2 {
						row[j/2+lim/2] = 9
					}
				case 2: // NaNs, one of them at the end, and a maximum past the limit
					for k := 0; k < V; k += 7 {
						row[k] = float32(math.NaN())
					}
					row[lim-1] = float32(math.NaN())
					if lim < V {
						row[V-1] = 100
					}
				case 3:
					if b == 3 { // all NaN
						for k := range row {
							row[k] = float32(math.NaN())
						}
					}
				}
			}
			db := newDevBufs(t, d)
			io := make([]int32, StepIOLen(B))
			io[2*B] = int32(c.limit)
			keys := db.out(2 * B)
			// Slot 5 holds a key larger than any of its row: it stays.
			raw := make([]byte, 8*B)
			const held = ^uint64(0) - 3
			binary.LittleEndian.PutUint64(raw[8*5:], held)
			if err := keys.CopyFromBytes(raw); err != nil {
				t.Fatal(err)
			}
			vs := variantStream(t, d, v)
			if err := d.StepArgmaxRows(vs, v, db.in(logits), B, V, db.ints(io), keys.Ptr()); err != nil {
				t.Fatal(err)
			}
			if err := d.Synchronize(); err != nil {
				t.Fatal(err)
			}
			if err := keys.CopyToBytes(raw); err != nil {
				t.Fatal(err)
			}
			for b := 0; b < B; b++ {
				key := binary.LittleEndian.Uint64(raw[8*b:])
				if b == 5 {
					if key != held {
						t.Errorf("%s row 5: the larger key held before became %#x", name, key)
					}
					continue
				}
				best := -1
				for k, x := range logits[b*V : b*V+lim] {
					if x == x && (best < 0 || x > logits[b*V+best]) {
						best = k
					}
				}
				if best < 0 {
					if key != 0 {
						t.Errorf("%s row %d (all NaN): key %#x, want 0", name, b, key)
					}
					continue
				}
				if got := ArgmaxID(key); got != int32(best) || key == 0 {
					t.Errorf("%s row %d: device argmax %d (key %#x), host %d", name, b, got, key, best)
				}
			}
		}
	}
}

func TestArgmaxParts(t *testing.T) {
	for _, c := range []struct{ B, V, sms, want int }{
		{256, 50280, 132, 3}, {9, 50280, 132, 25}, {300, 50280, 132, 2}, {600, 50280, 132, 1}, {12, 7, 132, 1}, {20, 1001, 0, 1},
	} {
		if got := argmaxParts(c.B, c.V, c.sms); got != c.want {
			t.Errorf("argmaxParts(B %d, V %d, %d SMs) = %d, want %d", c.B, c.V, c.sms, got, c.want)
		}
	}
}
