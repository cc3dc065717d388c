package safetensors

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// testdata returns the path of a fixture in this package's testdata directory.
func testdata(name string) string {
	return filepath.Join("testdata", name)
}

// file assembles a safetensors file from a literal header and data, without
// padding, so that tests control every byte.
func file(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

// tinyHeader and tinyData are the hand-built contents of testdata/tiny.safetensors:
// a = F32 [1, -2.5], b = I8 [-1, 0, 127], metadata format=pt.
const tinyHeader = `{"__metadata__":{"format":"pt"},` +
	`"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},` +
	`"b":{"dtype":"I8","shape":[3],"data_offsets":[8,11]}}      `

var tinyData = []byte{
	0x00, 0x00, 0x80, 0x3f, // 1.0
	0x00, 0x00, 0x20, 0xc0, // -2.5
	0xff, 0x00, 0x7f, // -1, 0, 127
}

func checkTiny(t *testing.T, f *File) {
	t.Helper()
	if got, want := f.Names(), []string{"a", "b"}; !slices.Equal(got, want) {
		t.Errorf("Names() = %q, want %q", got, want)
	}
	if got := f.Metadata["format"]; got != "pt" || len(f.Metadata) != 1 {
		t.Errorf("Metadata = %v, want map[format:pt]", f.Metadata)
	}
	a, err := f.Float32("a")
	if err != nil || !slices.Equal(a, []float32{1, -2.5}) {
		t.Errorf("Float32(a) = %v, %v; want [1 -2.5]", a, err)
	}
	b, err := f.Int64("b")
	if err != nil || !slices.Equal(b, []int64{-1, 0, 127}) {
		t.Errorf("Int64(b) = %v, %v; want [-1 0 127]", b, err)
	}
	info, ok := f.Info("b")
	want := TensorInfo{Name: "b", DType: "I8", Shape: []int{3}, Begin: 8, End: 11}
	if !ok || info.Name != want.Name || info.DType != want.DType || !slices.Equal(info.Shape, want.Shape) ||
		info.Begin != want.Begin || info.End != want.End {
		t.Errorf("Info(b) = %+v, %v; want %+v", info, ok, want)
	}
}

func TestHandBuilt(t *testing.T) {
	if len(tinyHeader)%8 != 0 {
		t.Fatalf("tinyHeader is %d bytes, not a multiple of 8", len(tinyHeader))
	}
	b := file(tinyHeader, tinyData)
	f, err := Parse("tiny.safetensors", b)
	if err != nil {
		t.Fatal(err)
	}
	checkTiny(t, f)

	disk, err := os.ReadFile(testdata("tiny.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(disk, b) {
		t.Errorf("testdata/tiny.safetensors differs from the hand-built bytes")
	}
	// Marshal of the same tensors gives the same layout, minus key order
	// and padding; check that it parses to the same content.
	m, err := Marshal([]Tensor{
		F32("a", []int{2}, []float32{1, -2.5}),
		{Name: "b", DType: "I8", Shape: []int{3}, Data: []byte{0xff, 0, 0x7f}},
	}, map[string]string{"format": "pt"})
	if err != nil {
		t.Fatal(err)
	}
	f, err = Parse("marshal", m)
	if err != nil {
		t.Fatal(err)
	}
	checkTiny(t, f)
}

func TestOpen(t *testing.T) {
	f, err := Open(testdata("tiny.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	checkTiny(t, f)
	if f.Path != testdata("tiny.safetensors") {
		t.Errorf("Path = %q", f.Path)
	}

	dir := t.TempDir()
	tests := []struct {
		name  string
		setup func(t *testing.T) string
		want  string
	}{
		{"missing", func(t *testing.T) string { return filepath.Join(dir, "nope.safetensors") }, "nope.safetensors"},
		{"directory", func(t *testing.T) string { return dir }, "not a regular file"},
		{"over 64 GiB", func(t *testing.T) string {
			p := filepath.Join(dir, "huge.safetensors")
			// A sparse file: Open must refuse it from the size alone.
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(p, maxFileSize+1); err != nil {
				t.Skipf("cannot create a sparse 64 GiB file here: %v", err)
			}
			return p
		}, "over the 64 GiB limit"},
		{"empty", func(t *testing.T) string {
			p := filepath.Join(dir, "empty.safetensors")
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}, "shorter than the 8-byte"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.setup(t)
			_, err := Open(p)
			if err == nil {
				t.Fatalf("Open(%q) succeeded", p)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "safetensors: ") || !strings.Contains(msg, p) ||
				!strings.Contains(msg, tt.want) {
				t.Errorf("Open(%q) error = %q; want prefix, path and %q", p, msg, tt.want)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name  string
		dtype DType
		shape []int
	}{
		{"F64", "F64", []int{2, 3}},
		{"F32", "F32", []int{2, 3}},
		{"F16", "F16", []int{2, 3}},
		{"BF16", "BF16", []int{2, 3}},
		{"I64", "I64", []int{2, 3}},
		{"I32", "I32", []int{2, 3}},
		{"I16", "I16", []int{2, 3}},
		{"I8", "I8", []int{2, 3}},
		{"U8", "U8", []int{2, 3}},
		{"BOOL", "BOOL", []int{2, 3}},
		{"scalar", "F32", nil},
		{"zero", "F32", []int{4, 0, 3}},
		{"rank 4", "BF16", []int{1, 2, 3, 5}},
	}
	var tensors []Tensor
	for _, tt := range tests {
		n := 1
		for _, d := range tt.shape {
			n *= d
		}
		data := make([]byte, n*tt.dtype.Size())
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		tensors = append(tensors, Tensor{Name: "t." + tt.name, DType: tt.dtype, Shape: tt.shape, Data: data})
	}
	meta := map[string]string{"format": "pt", "quote\"and\\slash": "ünïcode <&>"}
	b, err := Marshal(tensors, meta)
	if err != nil {
		t.Fatal(err)
	}
	if n := binary.LittleEndian.Uint64(b); n%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", n)
	}
	f, err := Parse("rt.safetensors", b)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Metadata) != len(meta) {
		t.Errorf("Metadata = %v, want %v", f.Metadata, meta)
	}
	for k, v := range meta {
		if f.Metadata[k] != v {
			t.Errorf("Metadata[%q] = %q, want %q", k, f.Metadata[k], v)
		}
	}
	if len(f.Names()) != len(tests) {
		t.Errorf("Names() = %q, want %d names", f.Names(), len(tests))
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tensors[i]
			info, ok := f.Info(want.Name)
			if !ok {
				t.Fatalf("Info(%q) missing", want.Name)
			}
			if info.DType != want.DType || !slices.Equal(info.Shape, append([]int{}, want.Shape...)) {
				t.Errorf("Info = %+v, want dtype %s shape %v", info, want.DType, want.Shape)
			}
			raw, err := f.Raw(want.Name)
			if err != nil || !bytes.Equal(raw, want.Data) {
				t.Errorf("Raw = %x, %v; want %x", raw, err, want.Data)
			}
		})
	}
}

func TestConstructorsRoundTrip(t *testing.T) {
	f32 := []float32{0, -1.5, float32(math.Inf(1)), math.SmallestNonzeroFloat32, math.MaxFloat32}
	f64 := []float64{0, -1.5, math.Inf(-1), math.SmallestNonzeroFloat64, math.MaxFloat64, math.Pi}
	i64 := []int64{0, -1, math.MinInt64, math.MaxInt64}
	b, err := Marshal([]Tensor{
		F32("f32", []int{5}, f32),
		F64("f64", []int{2, 3}, f64),
		I64("i64", []int{4}, i64),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse("c.safetensors", b)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := f.Float32("f32"); err != nil || !slices.Equal(got, f32) {
		t.Errorf("Float32(f32) = %v, %v", got, err)
	}
	if got, err := f.Float64("f64"); err != nil || !slices.Equal(got, f64) {
		t.Errorf("Float64(f64) = %v, %v", got, err)
	}
	if got, err := f.Int64("i64"); err != nil || !slices.Equal(got, i64) {
		t.Errorf("Int64(i64) = %v, %v", got, err)
	}
	if len(f.Metadata) != 0 || f.Metadata == nil {
		t.Errorf("Metadata = %#v, want empty non-nil map", f.Metadata)
	}
}
