package safetensors

import (
	"encoding/binary"
	"math"
	"slices"
	"strings"
	"testing"
)

// sameFloat32 reports whether a and b are bitwise equal, or both NaN.
func sameFloat32(a, b float32) bool {
	if a != a || b != b {
		return a != a && b != b
	}
	return math.Float32bits(a) == math.Float32bits(b)
}

func TestF16ToF32(t *testing.T) {
	tests := []struct {
		name string
		in   uint16
		want float32
	}{
		{"zero", 0x0000, 0},
		{"negative zero", 0x8000, float32(math.Copysign(0, -1))},
		{"one", 0x3c00, 1},
		{"minus two", 0xc000, -2},
		{"one third", 0x3555, 0.333251953125},
		{"max normal", 0x7bff, 65504},
		{"min normal", 0x0400, 1.0 / (1 << 14)},
		{"min subnormal", 0x0001, 1.0 / (1 << 24)},
		{"max subnormal", 0x03ff, 1023.0 / (1 << 24)},
		{"negative subnormal", 0x8001, -1.0 / (1 << 24)},
		{"+inf", 0x7c00, float32(math.Inf(1))},
		{"-inf", 0xfc00, float32(math.Inf(-1))},
		{"nan", 0x7e00, float32(math.NaN())},
		{"nan low payload", 0x7c01, float32(math.NaN())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := f16ToF32(tt.in); !sameFloat32(got, tt.want) {
				t.Errorf("f16ToF32(%#04x) = %v (%#08x), want %v (%#08x)",
					tt.in, got, math.Float32bits(got), tt.want, math.Float32bits(tt.want))
			}
		})
	}
}

func TestBF16ToF32(t *testing.T) {
	tests := []struct {
		name string
		in   uint16
		want float32
	}{
		{"zero", 0x0000, 0},
		{"negative zero", 0x8000, float32(math.Copysign(0, -1))},
		{"one", 0x3f80, 1},
		{"minus three", 0xc040, -3},
		{"pi", 0x4049, 3.140625},
		{"min subnormal", 0x0001, math.Float32frombits(0x00010000)},
		{"max", 0x7f7f, math.Float32frombits(0x7f7f0000)},
		{"+inf", 0x7f80, float32(math.Inf(1))},
		{"-inf", 0xff80, float32(math.Inf(-1))},
		{"nan", 0x7fc0, float32(math.NaN())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := bf16ToF32(tt.in); !sameFloat32(got, tt.want) {
				t.Errorf("bf16ToF32(%#04x) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

// halves encodes 16-bit values little-endian.
func halves(v ...uint16) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint16(b, x)
	}
	return b
}

func TestFileConversions(t *testing.T) {
	inf := float32(math.Inf(1))
	tests := []struct {
		name    string
		tensor  Tensor
		want32  []float32 // nil: Float32 must fail
		wantI64 []int64   // nil: Int64 must fail
	}{
		{"nil", F32("x", []int{0}, nil), []float32{}, nil},
		{"zero F16", Tensor{Name: "x", DType: "F16", Shape: []int{0, 5}}, []float32{}, nil},
		{"zero I8", Tensor{Name: "x", DType: "I8", Shape: []int{0}}, nil, []int64{}},
		{"F32", F32("x", []int{3}, []float32{1, -0.5, inf}), []float32{1, -0.5, inf}, nil},
		{"F64 narrows", F64("x", []int{2}, []float64{0.1, 1e300}), []float32{0.1, inf}, nil},
		{"F16", Tensor{Name: "x", DType: "F16", Shape: []int{4}, Data: halves(0x3c00, 0x0001, 0xfc00, 0x7bff)},
			[]float32{1, 1.0 / (1 << 24), -inf, 65504}, nil},
		{"BF16", Tensor{Name: "x", DType: "BF16", Shape: []int{2}, Data: halves(0x4049, 0xff80)},
			[]float32{3.140625, -inf}, nil},
		{"I64", I64("x", []int{2}, []int64{math.MinInt64, 7}), nil, []int64{math.MinInt64, 7}},
		{"I32", Tensor{Name: "x", DType: "I32", Shape: []int{2}, Data: []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0x80}},
			nil, []int64{-1, math.MinInt32}},
		{"I16", Tensor{Name: "x", DType: "I16", Shape: []int{2}, Data: halves(0xffff, 0x7fff)}, nil, []int64{-1, 32767}},
		{"I8", Tensor{Name: "x", DType: "I8", Shape: []int{2}, Data: []byte{0x80, 0x7f}}, nil, []int64{-128, 127}},
		{"U8", Tensor{Name: "x", DType: "U8", Shape: []int{2}, Data: []byte{0x80, 0xff}}, nil, []int64{128, 255}},
		{"BOOL", Tensor{Name: "x", DType: "BOOL", Shape: []int{1}, Data: []byte{1}}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Marshal([]Tensor{tt.tensor}, nil)
			if err != nil {
				t.Fatal(err)
			}
			f, err := Parse("conv.safetensors", b)
			if err != nil {
				t.Fatal(err)
			}
			got32, err32 := f.Float32("x")
			got64, err64 := f.Float64("x")
			if tt.want32 == nil {
				for _, err := range []error{err32, err64} {
					if err == nil || !strings.Contains(err.Error(), `conv.safetensors: tensor "x": cannot convert`) {
						t.Errorf("float conversion error = %v, want cannot convert", err)
					}
				}
			} else {
				if err32 != nil || err64 != nil {
					t.Fatalf("Float32/Float64 errors: %v, %v", err32, err64)
				}
				if !slices.EqualFunc(got32, tt.want32, sameFloat32) {
					t.Errorf("Float32 = %v, want %v", got32, tt.want32)
				}
				if len(got64) != len(tt.want32) {
					t.Fatalf("Float64 = %v, want %d values", got64, len(tt.want32))
				}
				for i, x := range got64 {
					// Float64 from F64 keeps the full value (TestFloat64FromF64IsExact);
					// from the narrower types it must widen Float32's result exactly.
					if tt.tensor.DType != "F64" && !(x == float64(got32[i]) || x != x && got32[i] != got32[i]) {
						t.Errorf("Float64[%d] = %v, want %v", i, x, got32[i])
					}
				}
			}
			gotI, errI := f.Int64("x")
			if tt.wantI64 == nil {
				if errI == nil || !strings.Contains(errI.Error(), `conv.safetensors: tensor "x": cannot convert`) {
					t.Errorf("Int64 error = %v, want cannot convert", errI)
				}
			} else if errI != nil || !slices.Equal(gotI, tt.wantI64) {
				t.Errorf("Int64 = %v, %v; want %v", gotI, errI, tt.wantI64)
			}
		})
	}
}

func TestFloat64FromF64IsExact(t *testing.T) {
	b, err := Marshal([]Tensor{F64("x", []int{1}, []float64{0.1})}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse("f64", b)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := f.Float64("x"); err != nil || got[0] != 0.1 {
		t.Errorf("Float64 = %v, %v; want [0.1]", got, err)
	}
}

func TestMissingTensor(t *testing.T) {
	f, err := Parse("m.safetensors", file(tinyHeader, tinyData))
	if err != nil {
		t.Fatal(err)
	}
	want := `safetensors: m.safetensors: no tensor "zz"`
	for name, fn := range map[string]func(string) error{
		"Float32": func(n string) error { _, err := f.Float32(n); return err },
		"Float64": func(n string) error { _, err := f.Float64(n); return err },
		"Int64":   func(n string) error { _, err := f.Int64(n); return err },
		"Raw":     func(n string) error { _, err := f.Raw(n); return err },
	} {
		if err := fn("zz"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s(zz) error = %v, want %q", name, err, want)
		}
	}
	if _, ok := f.Info("zz"); ok {
		t.Errorf("Info(zz) found")
	}
}
