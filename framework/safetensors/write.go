package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mambakit/mambakit/internal/atomicfile"
)

// Tensor is one tensor to write. Data holds the elements little-endian in
// row-major order; len(Data) must equal product(Shape)·DType.Size().
// A nil or empty Shape is a scalar (one element).
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// F32 returns an F32 tensor holding v.
func F32(name string, shape []int, v []float32) Tensor {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return Tensor{Name: name, DType: "F32", Shape: slices.Clone(shape), Data: b}
}

// BF16 returns a BF16 tensor holding the bfloat16 values whose bits are
// h (the top halves of float32s; the caller rounds).
func BF16(name string, shape []int, h []uint16) Tensor {
	b := make([]byte, 2*len(h))
	for i, x := range h {
		binary.LittleEndian.PutUint16(b[2*i:], x)
	}
	return Tensor{Name: name, DType: "BF16", Shape: slices.Clone(shape), Data: b}
}

// F64 returns an F64 tensor holding v.
func F64(name string, shape []int, v []float64) Tensor {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(x))
	}
	return Tensor{Name: name, DType: "F64", Shape: slices.Clone(shape), Data: b}
}

// I64 returns an I64 tensor holding v.
func I64(name string, shape []int, v []int64) Tensor {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(x))
	}
	return Tensor{Name: name, DType: "I64", Shape: slices.Clone(shape), Data: b}
}

// Marshal encodes tensors and metadata as a safetensors file. Tensors are
// sorted by name and their data laid out contiguously in that order; the
// header is padded with spaces so that the data starts at a multiple of 8.
// Metadata is omitted when empty.
func Marshal(tensors []Tensor, metadata map[string]string) ([]byte, error) {
	return marshal("", tensors, metadata)
}

// marshal is Marshal with the target path, if any, in error messages.
func marshal(path string, tensors []Tensor, metadata map[string]string) ([]byte, error) {
	prefix := "safetensors: "
	if path != "" {
		prefix += path + ": "
	}
	sorted := slices.Clone(tensors)
	slices.SortFunc(sorted, func(a, b Tensor) int { return strings.Compare(a.Name, b.Name) })

	var hdr bytes.Buffer
	hdr.WriteByte('{')
	if len(metadata) > 0 {
		for k, v := range metadata {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return nil, fmt.Errorf("%smetadata key %q: key or value is not valid UTF-8", prefix, k)
			}
		}
		m, err := json.Marshal(metadata) // sorts the keys
		if err != nil {
			return nil, fmt.Errorf("%smetadata: %v", prefix, err)
		}
		hdr.WriteString(`"` + metadataKey + `":`)
		hdr.Write(m)
	}
	var offset int64
	for i, t := range sorted {
		switch {
		case t.Name == metadataKey:
			return nil, fmt.Errorf("%stensor name %q is reserved for metadata", prefix, t.Name)
		case !utf8.ValidString(t.Name):
			return nil, fmt.Errorf("%stensor %q: name is not valid UTF-8", prefix, t.Name)
		case i > 0 && sorted[i-1].Name == t.Name:
			return nil, fmt.Errorf("%stensor %q: duplicate name", prefix, t.Name)
		}
		size := t.DType.Size()
		if size == 0 {
			return nil, fmt.Errorf("%stensor %q: dtype %q is not supported", prefix, t.Name, string(t.DType))
		}
		if slices.ContainsFunc(t.Shape, func(d int) bool { return d < 0 }) {
			return nil, fmt.Errorf("%stensor %q: shape %s has a negative dimension", prefix, t.Name, formatShape(t.Shape))
		}
		nbytes, ok := byteSize(t.Shape, size)
		if !ok {
			return nil, fmt.Errorf("%stensor %q: shape %s of %s overflows", prefix, t.Name, formatShape(t.Shape), t.DType)
		}
		if int64(len(t.Data)) != nbytes {
			return nil, fmt.Errorf("%stensor %q: %s shape %s needs %d bytes, but Data has %d",
				prefix, t.Name, t.DType, formatShape(t.Shape), nbytes, len(t.Data))
		}
		if hdr.Len() > 1 {
			hdr.WriteByte(',')
		}
		name, _ := json.Marshal(t.Name)
		hdr.Write(name)
		hdr.WriteString(`:{"dtype":`)
		dtype, _ := json.Marshal(string(t.DType))
		hdr.Write(dtype)
		hdr.WriteString(`,"shape":[`)
		for j, d := range t.Shape {
			if j > 0 {
				hdr.WriteByte(',')
			}
			hdr.WriteString(strconv.Itoa(d))
		}
		fmt.Fprintf(&hdr, `],"data_offsets":[%d,%d]}`, offset, offset+nbytes)
		offset += nbytes
	}
	hdr.WriteByte('}')
	for hdr.Len()%8 != 0 {
		hdr.WriteByte(' ')
	}
	if hdr.Len() > maxHeaderSize {
		return nil, fmt.Errorf("%sheader is %d bytes, over the 100 MiB limit readers accept", prefix, hdr.Len())
	}

	out := make([]byte, 8, 8+int64(hdr.Len())+offset)
	binary.LittleEndian.PutUint64(out, uint64(hdr.Len()))
	out = append(out, hdr.Bytes()...)
	for _, t := range sorted {
		out = append(out, t.Data...)
	}
	return out, nil
}

// Write writes tensors and metadata, encoded by [Marshal], to path
// atomically (internal/atomicfile): the bytes go to a temporary file in the same
// directory, which is synced and renamed over path, and then the directory
// is synced. On error the temporary file is removed and any existing file at
// path is left untouched. A new file gets mode 0644; a replaced file keeps
// its mode.
func Write(path string, tensors []Tensor, metadata map[string]string) error {
	b, err := marshal(path, tensors, metadata)
	if err != nil {
		return err
	}
	mode := os.FileMode(0o644)
	if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() {
		mode = st.Mode().Perm()
	}
	if err := atomicfile.WriteFile(path, b, mode); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}
