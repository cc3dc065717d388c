package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits on hostile input. The reference reader caps the header at 100 MB;
// the rank cap keeps a header of "[1,1,1,…]" from costing 8 bytes per byte.
const (
	maxFileSize   = 64 << 30
	maxHeaderSize = 100 << 20
	maxRank       = 64
	metadataKey   = "__metadata__"
)

// TensorInfo describes one tensor of a [File]. Begin and End are byte offsets
// relative to the start of the data buffer; End-Begin == product(Shape)·DType.Size().
type TensorInfo struct {
	Name       string
	DType      DType
	Shape      []int
	Begin, End int64
}

// File is a parsed, validated safetensors file held in memory.
type File struct {
	Path     string            // as passed to Open or Parse; used in error messages
	Metadata map[string]string // the "__metadata__" object; never nil

	data  []byte                // the data buffer: the bytes after the header
	infos map[string]TensorInfo // by name
	names []string              // sorted
}

// Open reads the file at path into memory and parses it with [Parse].
// Files larger than 64 GiB are refused before anything is read.
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("safetensors: %s: not a regular file (mode %v)", path, st.Mode())
	}
	if st.Size() > maxFileSize || st.Size() > math.MaxInt {
		return nil, fmt.Errorf("safetensors: %s: file is %d bytes, over the 64 GiB limit", path, st.Size())
	}
	b := make([]byte, st.Size())
	if _, err := io.ReadFull(fh, b); err != nil {
		return nil, fmt.Errorf("safetensors: %s: reading %d bytes: %w (did the file shrink?)", path, len(b), err)
	}
	return Parse(path, b)
}

// Parse parses and validates a safetensors file held in b. The path is used
// only in error messages. The returned File refers to b; do not modify b
// while the File is in use.
func Parse(path string, b []byte) (*File, error) {
	p := &parser{path: path}
	if len(b) < 8 {
		return nil, p.errorf("file is %d bytes, shorter than the 8-byte header length prefix", len(b))
	}
	n := binary.LittleEndian.Uint64(b)
	if n > maxHeaderSize {
		return nil, p.errorf("header length %d is over the 100 MiB limit; not a safetensors file?", n)
	}
	if n > uint64(len(b)-8) {
		return nil, p.errorf("header length %d runs past the end of the %d-byte file (truncated?)", n, len(b))
	}
	f := &File{
		Path:     path,
		Metadata: map[string]string{},
		data:     b[8+n:],
		infos:    map[string]TensorInfo{},
	}
	if err := p.parseHeader(f, b[8:8+n]); err != nil {
		return nil, err
	}
	if err := p.checkOverlap(f); err != nil {
		return nil, err
	}
	f.names = make([]string, 0, len(f.infos))
	for name := range f.infos {
		f.names = append(f.names, name)
	}
	slices.Sort(f.names)
	return f, nil
}

// parser carries the file name into every error message.
type parser struct {
	path string
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("safetensors: %s: %s", p.path, fmt.Sprintf(format, args...))
}

func (p *parser) tensorErrorf(name, format string, args ...any) error {
	return fmt.Errorf("safetensors: %s: tensor %q: %s", p.path, name, fmt.Sprintf(format, args...))
}

// jsonErr reports a decoder error; where is "" for the top level or the
// tensor/metadata context.
func (p *parser) jsonErr(where string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return p.errorf("%sheader is not valid JSON: unexpected end of header", where)
	}
	return p.errorf("%sheader is not valid JSON: %v", where, err)
}

// parseHeader walks the header with json.Decoder tokens rather than
// json.Unmarshal into a map, so that duplicate keys are reported instead of
// silently keeping the last one.
func (p *parser) parseHeader(f *File, header []byte) error {
	if !utf8.Valid(header) {
		return p.errorf("header is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(header))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return p.jsonErr("", err)
	}
	if tok != json.Delim('{') {
		return p.errorf("header is not a JSON object (it starts with %s)", describe(tok))
	}
	seenMetadata := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return p.jsonErr("", err)
		}
		key, ok := tok.(string)
		if !ok {
			return p.errorf("header is not valid JSON: object key is %s", describe(tok))
		}
		if key == metadataKey {
			if seenMetadata {
				return p.errorf("duplicate %q key in header", metadataKey)
			}
			seenMetadata = true
			if err := p.parseMetadata(dec, f.Metadata); err != nil {
				return err
			}
			continue
		}
		if _, dup := f.infos[key]; dup {
			return p.tensorErrorf(key, "duplicate name in header")
		}
		info, err := p.parseEntry(dec, key, int64(len(f.data)))
		if err != nil {
			return err
		}
		f.infos[key] = info
	}
	if tok, err := dec.Token(); err != nil {
		return p.jsonErr("", err)
	} else if tok != json.Delim('}') {
		return p.errorf("header is not valid JSON: unexpected %s", describe(tok))
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return p.errorf("header is not valid JSON after the top-level object: %v", err)
		}
		return p.errorf("header has trailing data (%s) after the top-level object", describe(tok))
	}
	return nil
}

// parseMetadata reads the "__metadata__" value: null or an object of strings.
func (p *parser) parseMetadata(dec *json.Decoder, into map[string]string) error {
	const where = "__metadata__: "
	tok, err := dec.Token()
	if err != nil {
		return p.jsonErr(where, err)
	}
	if tok == nil {
		return nil
	}
	if tok != json.Delim('{') {
		return p.errorf("%q must be an object of strings, got %s", metadataKey, describe(tok))
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return p.jsonErr(where, err)
		}
		key, _ := tok.(string)
		if _, dup := into[key]; dup {
			return p.errorf("%s: duplicate key %q", metadataKey, key)
		}
		tok, err = dec.Token()
		if err != nil {
			return p.jsonErr(where, err)
		}
		val, ok := tok.(string)
		if !ok {
			return p.errorf("%s: key %q: value must be a string, got %s", metadataKey, key, describe(tok))
		}
		into[key] = val
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return p.jsonErr(where, err)
	}
	return nil
}

// parseEntry reads and validates one tensor entry against a data buffer of
// dataLen bytes.
func (p *parser) parseEntry(dec *json.Decoder, name string, dataLen int64) (TensorInfo, error) {
	info := TensorInfo{Name: name}
	where := fmt.Sprintf("tensor %q: ", name)
	tok, err := dec.Token()
	if err != nil {
		return info, p.jsonErr(where, err)
	}
	if tok != json.Delim('{') {
		return info, p.tensorErrorf(name, "entry must be an object with dtype, shape and data_offsets, got %s", describe(tok))
	}
	var hasDType, hasShape, hasOffsets bool
	var offsets []int64
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return info, p.jsonErr(where, err)
		}
		key, _ := tok.(string)
		switch key {
		case "dtype":
			if hasDType {
				return info, p.tensorErrorf(name, "duplicate \"dtype\" field")
			}
			hasDType = true
			tok, err := dec.Token()
			if err != nil {
				return info, p.jsonErr(where, err)
			}
			s, ok := tok.(string)
			if !ok {
				return info, p.tensorErrorf(name, "\"dtype\" must be a string, got %s", describe(tok))
			}
			info.DType = DType(s)
		case "shape":
			if hasShape {
				return info, p.tensorErrorf(name, "duplicate \"shape\" field")
			}
			hasShape = true
			dims, err := p.parseInts(dec, name, "shape", maxRank, strconv.IntSize)
			if err != nil {
				return info, err
			}
			info.Shape = make([]int, len(dims))
			for i, d := range dims {
				info.Shape[i] = int(d)
			}
		case "data_offsets":
			if hasOffsets {
				return info, p.tensorErrorf(name, "duplicate \"data_offsets\" field")
			}
			hasOffsets = true
			if offsets, err = p.parseInts(dec, name, "data_offsets", 2, 64); err != nil {
				return info, err
			}
			if len(offsets) != 2 {
				return info, p.tensorErrorf(name, "\"data_offsets\" must be [begin, end], got %d numbers", len(offsets))
			}
		default:
			// Unknown fields are skipped, as the reference reader does.
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return info, p.jsonErr(where, err)
			}
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return info, p.jsonErr(where, err)
	}
	switch {
	case !hasDType:
		return info, p.tensorErrorf(name, "missing \"dtype\"")
	case !hasShape:
		return info, p.tensorErrorf(name, "missing \"shape\"")
	case !hasOffsets:
		return info, p.tensorErrorf(name, "missing \"data_offsets\"")
	}
	size := info.DType.Size()
	if size == 0 {
		return info, p.tensorErrorf(name, "dtype %q is not supported (want one of F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)", string(info.DType))
	}
	nbytes, ok := byteSize(info.Shape, size)
	if !ok {
		return info, p.tensorErrorf(name, "shape %s of %s overflows: more than 2^63 bytes", formatShape(info.Shape), info.DType)
	}
	info.Begin, info.End = offsets[0], offsets[1]
	switch {
	case info.Begin > info.End:
		return info, p.tensorErrorf(name, "data_offsets [%d, %d): begin is after end", info.Begin, info.End)
	case info.End > dataLen:
		return info, p.tensorErrorf(name, "data_offsets [%d, %d) end beyond the %d-byte data buffer", info.Begin, info.End, dataLen)
	case info.End-info.Begin != nbytes:
		return info, p.tensorErrorf(name, "data_offsets [%d, %d) hold %d bytes, but %s shape %s needs %d",
			info.Begin, info.End, info.End-info.Begin, info.DType, formatShape(info.Shape), nbytes)
	}
	return info, nil
}

// parseInts reads a JSON array of at most maxLen non-negative integers that
// fit in bitSize bits. Reading stops at the first bad element, so a hostile
// array costs no more than maxLen numbers.
func (p *parser) parseInts(dec *json.Decoder, name, field string, maxLen, bitSize int) ([]int64, error) {
	where := fmt.Sprintf("tensor %q: ", name)
	tok, err := dec.Token()
	if err != nil {
		return nil, p.jsonErr(where, err)
	}
	if tok != json.Delim('[') {
		return nil, p.tensorErrorf(name, "%q must be an array of non-negative integers, got %s", field, describe(tok))
	}
	out := []int64{}
	for dec.More() {
		if len(out) == maxLen {
			return nil, p.tensorErrorf(name, "%q has more than %d elements", field, maxLen)
		}
		tok, err := dec.Token()
		if err != nil {
			return nil, p.jsonErr(where, err)
		}
		num, ok := tok.(json.Number)
		if !ok {
			return nil, p.tensorErrorf(name, "%q must be an array of non-negative integers, got %s", field, describe(tok))
		}
		v, err := strconv.ParseInt(string(num), 10, bitSize)
		switch {
		case errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(string(num), "-"):
			return nil, p.tensorErrorf(name, "%q element %s is absurdly large", field, num)
		case err != nil:
			return nil, p.tensorErrorf(name, "%q element %s is not an integer", field, num)
		case v < 0:
			return nil, p.tensorErrorf(name, "%q element %d is negative", field, v)
		}
		out = append(out, v)
	}
	if _, err := dec.Token(); err != nil { // the closing ']'
		return nil, p.jsonErr(where, err)
	}
	return out, nil
}

// checkOverlap sorts the non-empty ranges by begin and reports the first
// range that starts before its predecessor ends. Zero-length ranges hold no
// bytes and cannot overlap anything.
func (p *parser) checkOverlap(f *File) error {
	ranges := make([]TensorInfo, 0, len(f.infos))
	for _, info := range f.infos {
		if info.End > info.Begin {
			ranges = append(ranges, info)
		}
	}
	slices.SortFunc(ranges, func(a, b TensorInfo) int {
		return cmp.Or(cmp.Compare(a.Begin, b.Begin), cmp.Compare(a.End, b.End), strings.Compare(a.Name, b.Name))
	})
	for i := 1; i < len(ranges); i++ {
		prev, cur := ranges[i-1], ranges[i]
		if cur.Begin < prev.End {
			return p.tensorErrorf(cur.Name, "data_offsets [%d, %d) overlap tensor %q at [%d, %d)",
				cur.Begin, cur.End, prev.Name, prev.Begin, prev.End)
		}
	}
	return nil
}

// byteSize returns product(shape)·size, or false if it exceeds MaxInt64.
// Zero dimensions are set aside first so that [0, 2^62, 2^62] is rejected
// regardless of where the zero sits.
func byteSize(shape []int, size int) (int64, bool) {
	n, zero := uint64(size), false
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		if d == 0 {
			zero = true
			continue
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			return 0, false
		}
		n = lo
	}
	if zero {
		return 0, true
	}
	return int64(n), true
}

// formatShape prints a shape as the header spells it: [2, 3].
func formatShape(shape []int) string {
	var sb strings.Builder
	sb.WriteByte('[')
	for i, d := range shape {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(strconv.Itoa(d))
	}
	sb.WriteByte(']')
	return sb.String()
}

// describe names a JSON token for error messages.
func describe(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			return "an object"
		case '[':
			return "an array"
		}
		return fmt.Sprintf("%q", string(v))
	case string:
		if len(v) > 40 {
			v = v[:40] + "…"
		}
		return fmt.Sprintf("string %q", v)
	case json.Number:
		return "number " + string(v)
	case bool:
		return fmt.Sprintf("%t", v)
	case nil:
		return "null"
	}
	return fmt.Sprintf("%v", tok)
}

// Names returns the tensor names in sorted order.
func (f *File) Names() []string {
	return slices.Clone(f.names)
}

// Info returns the description of the named tensor.
func (f *File) Info(name string) (TensorInfo, bool) {
	info, ok := f.infos[name]
	info.Shape = slices.Clone(info.Shape)
	return info, ok
}

// tensor returns the info and the raw bytes of the named tensor.
func (f *File) tensor(name string) (TensorInfo, []byte, error) {
	info, ok := f.infos[name]
	if !ok {
		return info, nil, fmt.Errorf("safetensors: %s: no tensor %q (the file has %d tensors; see Names)", f.Path, name, len(f.infos))
	}
	return info, f.data[info.Begin:info.End], nil
}

func (f *File) convErr(info TensorInfo, to, hint string) error {
	return fmt.Errorf("safetensors: %s: tensor %q: cannot convert %s to %s; %s", f.Path, info.Name, info.DType, to, hint)
}

// Raw returns a copy of the named tensor's little-endian bytes.
func (f *File) Raw(name string) ([]byte, error) {
	_, raw, err := f.tensor(name)
	if err != nil {
		return nil, err
	}
	return slices.Clone(raw), nil
}

// Float32 returns the named tensor as float32, converting from F32, F64
// (rounding to nearest), F16 or BF16 (both exact).
func (f *File) Float32(name string) ([]float32, error) {
	info, raw, err := f.tensor(name)
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	switch info.DType {
	case "F32":
		out := make([]float32, len(raw)/4)
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		}
		return out, nil
	case "F64":
		out := make([]float32, len(raw)/8)
		for i := range out {
			out[i] = float32(math.Float64frombits(le.Uint64(raw[8*i:])))
		}
		return out, nil
	case "F16":
		out := make([]float32, len(raw)/2)
		for i := range out {
			out[i] = f16ToF32(le.Uint16(raw[2*i:]))
		}
		return out, nil
	case "BF16":
		out := make([]float32, len(raw)/2)
		for i := range out {
			out[i] = bf16ToF32(le.Uint16(raw[2*i:]))
		}
		return out, nil
	}
	return nil, f.convErr(info, "float32", "use Int64 or Raw")
}

// Float64 returns the named tensor as float64, converting exactly from F64,
// F32, F16 or BF16.
func (f *File) Float64(name string) ([]float64, error) {
	info, raw, err := f.tensor(name)
	if err != nil {
		return nil, err
	}
	if info.DType == "F64" {
		le := binary.LittleEndian
		out := make([]float64, len(raw)/8)
		for i := range out {
			out[i] = math.Float64frombits(le.Uint64(raw[8*i:]))
		}
		return out, nil
	}
	if info.DType != "F32" && info.DType != "F16" && info.DType != "BF16" {
		return nil, f.convErr(info, "float64", "use Int64 or Raw")
	}
	v32, err := f.Float32(name)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(v32))
	for i, x := range v32 {
		out[i] = float64(x)
	}
	return out, nil
}

// Int64 returns the named tensor as int64, converting from I64, I32, I16, I8
// or U8.
func (f *File) Int64(name string) ([]int64, error) {
	info, raw, err := f.tensor(name)
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	var out []int64
	switch info.DType {
	case "I64":
		out = make([]int64, len(raw)/8)
		for i := range out {
			out[i] = int64(le.Uint64(raw[8*i:]))
		}
	case "I32":
		out = make([]int64, len(raw)/4)
		for i := range out {
			out[i] = int64(int32(le.Uint32(raw[4*i:])))
		}
	case "I16":
		out = make([]int64, len(raw)/2)
		for i := range out {
			out[i] = int64(int16(le.Uint16(raw[2*i:])))
		}
	case "I8":
		out = make([]int64, len(raw))
		for i, b := range raw {
			out[i] = int64(int8(b))
		}
	case "U8":
		out = make([]int64, len(raw))
		for i, b := range raw {
			out[i] = int64(b)
		}
	default:
		return nil, f.convErr(info, "int64", "use Float32, Float64 or Raw")
	}
	return out, nil
}
