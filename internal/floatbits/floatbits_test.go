package floatbits

import (
	"math"
	"testing"
)

func TestDiff(t *testing.T) {
	nan2 := math.Float32frombits(0x7fc00001)
	negZero := float32(math.Copysign(0, -1))
	for _, tt := range []struct {
		name     string
		a, b     []float32
		n, first int
	}{
		{"empty", nil, nil, 0, -1},
		{"same", []float32{1, 2, float32(math.NaN())}, []float32{1, 2, float32(math.NaN())}, 0, -1},
		{"one", []float32{1, 2, 3}, []float32{1, 2.5, 3}, 1, 1},
		{"zero and minus zero", []float32{0, 1}, []float32{negZero, 1}, 1, 0},
		{"NaN payloads", []float32{5, float32(math.NaN())}, []float32{5, nan2}, 1, 1},
		{"two", []float32{1, 2, 3, 4}, []float32{1, 0, 3, 0}, 2, 1},
		{"lengths", []float32{1, 2}, []float32{1, 2, 3}, 3, 0},
	} {
		if n, first := Diff(tt.a, tt.b); n != tt.n || first != tt.first {
			t.Errorf("%s: Diff = %d, %d; want %d, %d", tt.name, n, first, tt.n, tt.first)
		}
	}
}
