package safetensors

import (
	"slices"
	"testing"
)

// FuzzParse checks that Parse never panics on any input and that every file
// it accepts is internally consistent: ranges inside the data buffer, sizes
// matching shapes, no overlaps, and every accessor usable.
func FuzzParse(f *testing.F) {
	f.Add(file(tinyHeader, tinyData))
	valid, err := Marshal([]Tensor{
		F32("a", []int{2, 2}, []float32{1, 2, 3, 4}),
		F64("b", nil, []float64{1}),
		I64("c", []int{0}, nil),
		{Name: "d", DType: "BF16", Shape: []int{3}, Data: halves(0x3f80, 0x7f80, 0x0001)},
		{Name: "e", DType: "F16", Shape: []int{1}, Data: halves(0x7e00)},
		{Name: "f", DType: "I8", Shape: []int{2}, Data: []byte{0x80, 1}},
	}, map[string]string{"format": "pt"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	for _, n := range []int{0, 7, 8, 9, 40, len(valid) - 1} {
		f.Add(valid[:n]) // truncations
	}
	for _, c := range malformedCases() {
		f.Add(c.b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Parse("fuzz.safetensors", b)
		if err != nil {
			return
		}
		if file.Metadata == nil {
			t.Error("Metadata is nil")
		}
		names := file.Names()
		if !slices.IsSorted(names) {
			t.Errorf("Names() not sorted: %q", names)
		}
		dataLen := int64(len(file.data))
		for _, name := range names {
			info, ok := file.Info(name)
			if !ok {
				t.Fatalf("Info(%q) missing", name)
			}
			if info.Begin < 0 || info.Begin > info.End || info.End > dataLen {
				t.Fatalf("tensor %q: range [%d, %d) outside the %d-byte buffer", name, info.Begin, info.End, dataLen)
			}
			nbytes, ok := byteSize(info.Shape, info.DType.Size())
			if !ok || nbytes != info.End-info.Begin || info.DType.Size() == 0 {
				t.Fatalf("tensor %q: %s shape %v does not match range [%d, %d)", name, info.DType, info.Shape, info.Begin, info.End)
			}
			// Accessors must not panic; errors are fine for mismatched dtypes.
			raw, err := file.Raw(name)
			if err != nil || int64(len(raw)) != nbytes {
				t.Fatalf("Raw(%q) = %d bytes, %v", name, len(raw), err)
			}
			file.Float32(name)
			file.Float64(name)
			file.Int64(name)
		}
		if err := (&parser{path: "fuzz"}).checkOverlap(file); err != nil {
			t.Fatalf("accepted file has overlapping ranges: %v", err)
		}
	})
}
