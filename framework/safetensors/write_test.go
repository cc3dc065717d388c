package safetensors

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// dirNames lists the entries of dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteAtomic(t *testing.T) {
	good := []Tensor{F32("w", []int{2}, []float32{1, 2})}
	tests := []struct {
		name     string
		setup    func(t *testing.T, dir string) string // returns the target path
		tensors  []Tensor
		want     string   // error phrase; "" means success
		wantDir  []string // directory entries afterwards
		original bool     // the target held good data before and must be untouched
	}{
		{"new file", func(t *testing.T, dir string) string { return filepath.Join(dir, "m.safetensors") },
			good, "", []string{"m.safetensors"}, false},
		{"replace file", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "m.safetensors")
			if err := Write(p, []Tensor{I64("old", []int{1}, []int64{7})}, nil); err != nil {
				t.Fatal(err)
			}
			return p
		}, good, "", []string{"m.safetensors"}, false},
		{"invalid tensors leave original", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "m.safetensors")
			if err := Write(p, good, nil); err != nil {
				t.Fatal(err)
			}
			return p
		}, []Tensor{good[0], good[0]}, `tensor "w": duplicate name`, []string{"m.safetensors"}, true},
		{"missing directory", func(t *testing.T, dir string) string { return filepath.Join(dir, "nope", "m.safetensors") },
			good, "creating temporary file", nil, false},
		{"rename onto directory", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "m.safetensors")
			if err := os.MkdirAll(filepath.Join(p, "child"), 0o755); err != nil {
				t.Fatal(err)
			}
			return p
		}, good, "m.safetensors", []string{"m.safetensors"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := tt.setup(t, dir)
			before, _ := os.ReadFile(path)
			err := Write(path, tt.tensors, map[string]string{"k": "v"})
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				f, err := Open(path)
				if err != nil {
					t.Fatal(err)
				}
				if got, err := f.Float32("w"); err != nil || !slices.Equal(got, []float32{1, 2}) {
					t.Errorf("Float32(w) = %v, %v", got, err)
				}
				if f.Metadata["k"] != "v" {
					t.Errorf("Metadata = %v", f.Metadata)
				}
				if st, err := os.Stat(path); err != nil || st.Mode().Perm() == 0o600 {
					t.Errorf("mode = %v, %v; want the 0644 default, not CreateTemp's 0600", st.Mode(), err)
				}
			} else {
				if err == nil {
					t.Fatal("Write succeeded")
				}
				msg := err.Error()
				if !strings.HasPrefix(msg, "safetensors: "+path+": ") || !strings.Contains(msg, tt.want) {
					t.Errorf("error %q; want prefix %q and %q", msg, "safetensors: "+path+": ", tt.want)
				}
			}
			if tt.original {
				after, _ := os.ReadFile(path)
				if !bytes.Equal(before, after) {
					t.Errorf("original file changed by a failed Write")
				}
			}
			if got := dirNames(t, dir); !slices.Equal(got, tt.wantDir) {
				t.Errorf("directory holds %q, want %q (leftover temporary file?)", got, tt.wantDir)
			}
		})
	}
}

func TestMarshalRejects(t *testing.T) {
	tests := []struct {
		name    string
		tensors []Tensor
		meta    map[string]string
		want    string
	}{
		{"duplicate names", []Tensor{F32("a", nil, []float32{1}), F32("a", nil, []float32{2})}, nil, `tensor "a": duplicate name`},
		{"data too short", []Tensor{F32("a", []int{3}, []float32{1, 2})}, nil, `tensor "a": F32 shape [3] needs 12 bytes, but Data has 8`},
		{"data too long", []Tensor{F32("a", []int{1}, []float32{1, 2})}, nil, "needs 4 bytes, but Data has 8"},
		{"nil data for scalar", []Tensor{{Name: "a", DType: "F32"}}, nil, "needs 4 bytes, but Data has 0"},
		{"negative dim", []Tensor{{Name: "a", DType: "F32", Shape: []int{-1}}}, nil, "negative dimension"},
		{"overflow", []Tensor{{Name: "a", DType: "F32", Shape: []int{1 << 40, 1 << 40}}}, nil, "overflows"},
		{"unknown dtype", []Tensor{{Name: "a", DType: "F8_E4M3", Shape: []int{0}}}, nil, `dtype "F8_E4M3" is not supported`},
		{"reserved name", []Tensor{F32("__metadata__", nil, []float32{1})}, nil, "reserved"},
		{"invalid UTF-8 name", []Tensor{F32("a\xff", nil, []float32{1})}, nil, "not valid UTF-8"},
		{"invalid UTF-8 metadata", nil, map[string]string{"k": "\xff"}, "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Marshal(tt.tensors, tt.meta)
			if err == nil || !strings.HasPrefix(err.Error(), "safetensors: ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Marshal error = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestMarshalLayout(t *testing.T) {
	tests := []struct {
		name    string
		tensors []Tensor
		want    string // the header before padding
	}{
		{"nil", nil, `{}`},
		{"zero", []Tensor{F32("z", []int{0}, nil)},
			`{"z":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}`},
		{"sorted by name", []Tensor{F32("b", nil, []float32{1}), F32("a", []int{1}, []float32{1})},
			`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[],"data_offsets":[4,8]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Marshal(tt.tensors, nil)
			if err != nil {
				t.Fatal(err)
			}
			n := binary.LittleEndian.Uint64(b)
			if n%8 != 0 || n < uint64(len(tt.want)) || n >= uint64(len(tt.want))+8 {
				t.Fatalf("header length %d, want %d padded to a multiple of 8", n, len(tt.want))
			}
			hdr := string(b[8 : 8+n])
			if got := strings.TrimRight(hdr, " "); got != tt.want {
				t.Errorf("header = %q, want %q plus spaces", hdr, tt.want)
			}
		})
	}
}

// TestBF16Tensor: BF16 writes the bits it is given, two bytes each,
// little-endian, and the reader turns them back into the float32s they
// are the top halves of.
func TestBF16Tensor(t *testing.T) {
	bits := []uint16{0x3f80, 0xc049, 0x7f80, 0x0001, 0x8000}
	b, err := Marshal([]Tensor{BF16("w", []int{5}, bits)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse("w.safetensors", b)
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := f.Info("w"); info.DType != "BF16" || info.End-info.Begin != 10 {
		t.Fatalf("info %+v, want BF16 of 10 bytes", info)
	}
	got, err := f.Float32("w")
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range bits {
		if want := math.Float32frombits(uint32(h) << 16); math.Float32bits(got[i]) != math.Float32bits(want) {
			t.Errorf("element %d: %v, want %v", i, got[i], want)
		}
	}
}
