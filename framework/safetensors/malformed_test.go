package safetensors

import (
	"encoding/binary"
	"strings"
	"testing"
)

// entry returns a header entry for tensor "w" with the given field text.
func entry(fields string) string {
	return `{"w":{` + fields + `}}`
}

// malformedCase is one hostile input: the bytes, the tensor the error must
// name ("" for file-level errors) and a phrase the error must contain.
type malformedCase struct {
	name   string
	b      []byte
	tensor string
	want   string
}

func lengthOnly(n uint64, rest int) []byte {
	return append(binary.LittleEndian.AppendUint64(nil, n), make([]byte, rest)...)
}

func malformedCases() []malformedCase {
	ok := `"dtype":"F32","shape":[2],"data_offsets":[0,8]`
	data8 := make([]byte, 8)
	return []malformedCase{
		{"nil", nil, "", "file is 0 bytes, shorter than the 8-byte"},
		{"shorter than 8 bytes", []byte{1, 2, 3}, "", "shorter than the 8-byte"},
		{"header length past end of file", lengthOnly(1000, 10), "", "header length 1000 runs past the end of the 18-byte file"},
		{"header length over 100 MiB", lengthOnly(200<<20, 0), "", "over the 100 MiB limit"},
		{"header length max uint64", lengthOnly(^uint64(0), 4), "", "over the 100 MiB limit"},
		{"empty header", file("", nil), "", "not valid JSON"},
		{"header not JSON", file("{not json", nil), "", "not valid JSON"},
		{"header truncated", file(`{"w":{"dtype":"F32"`, nil), "w", "unexpected end of header"},
		{"header is an array", file(`[1,2]`, nil), "", "not a JSON object"},
		{"header is a string", file(`"x"`, nil), "", "not a JSON object"},
		{"header trailing data", file(`{} {}`, nil), "", "trailing data"},
		{"header invalid UTF-8", file("{\"\xff\":1}", nil), "", "not valid UTF-8"},
		{"entry is a number", file(`{"w":5}`, nil), "w", "entry must be an object"},
		{"entry is null", file(`{"w":null}`, nil), "w", "entry must be an object"},
		{"missing dtype", file(entry(`"shape":[2],"data_offsets":[0,8]`), data8), "w", `missing "dtype"`},
		{"missing shape", file(entry(`"dtype":"F32","data_offsets":[0,8]`), data8), "w", `missing "shape"`},
		{"missing data_offsets", file(entry(`"dtype":"F32","shape":[2]`), data8), "w", `missing "data_offsets"`},
		{"dtype not a string", file(entry(`"dtype":4,"shape":[2],"data_offsets":[0,8]`), data8), "w", `"dtype" must be a string, got number 4`},
		{"unknown dtype", file(entry(`"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]`), data8), "w", `dtype "F8_E4M3" is not supported`},
		{"shape not an array", file(entry(`"dtype":"F32","shape":"2","data_offsets":[0,8]`), data8), "w", `"shape" must be an array`},
		{"shape null", file(entry(`"dtype":"F32","shape":null,"data_offsets":[0,8]`), data8), "w", `"shape" must be an array`},
		{"shape element a string", file(entry(`"dtype":"F32","shape":["2"],"data_offsets":[0,8]`), data8), "w", `"shape" must be an array`},
		{"shape element fractional", file(entry(`"dtype":"F32","shape":[1.5],"data_offsets":[0,8]`), data8), "w", "1.5 is not an integer"},
		{"shape element exponent", file(entry(`"dtype":"F32","shape":[2e0],"data_offsets":[0,8]`), data8), "w", "not an integer"},
		{"negative dim", file(entry(`"dtype":"F32","shape":[-2],"data_offsets":[0,8]`), data8), "w", "-2 is negative"},
		{"absurd dim", file(entry(`"dtype":"F32","shape":[99999999999999999999999],"data_offsets":[0,8]`), data8), "w", "absurdly large"},
		{"rank over 64", file(entry(`"dtype":"F32","shape":[`+strings.Repeat("1,", 70)+`1],"data_offsets":[0,4]`), data8), "w", "more than 64 elements"},
		{"element count overflow", file(entry(`"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]`), data8), "w", "overflows"},
		{"byte size overflow", file(entry(`"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,8]`), data8), "w", "overflows"},
		{"overflow hidden by zero", file(entry(`"dtype":"F32","shape":[4294967296,4294967296,0],"data_offsets":[0,0]`), data8), "w", "overflows"},
		{"data_offsets one number", file(entry(`"dtype":"F32","shape":[2],"data_offsets":[8]`), data8), "w", "must be [begin, end], got 1"},
		{"data_offsets three numbers", file(entry(`"dtype":"F32","shape":[2],"data_offsets":[0,8,8]`), data8), "w", "more than 2 elements"},
		{"data_offsets negative", file(entry(`"dtype":"F32","shape":[2],"data_offsets":[-8,0]`), data8), "w", "negative"},
		{"data_offsets object", file(entry(`"dtype":"F32","shape":[2],"data_offsets":{"a":1}`), data8), "w", `"data_offsets" must be an array`},
		{"begin after end", file(entry(`"dtype":"F32","shape":[2],"data_offsets":[8,0]`), data8), "w", "data_offsets [8, 0): begin is after end"},
		{"end beyond data buffer", file(entry(`"dtype":"F32","shape":[2],"data_offsets":[64,9000]`), data8), "w", "data_offsets [64, 9000) end beyond the 8-byte data buffer"},
		{"end max int64", file(entry(`"dtype":"F32","shape":[2],"data_offsets":[0,9223372036854775807]`), data8), "w", "end beyond"},
		{"size mismatch", file(entry(`"dtype":"F32","shape":[3],"data_offsets":[0,8]`), data8), "w", "hold 8 bytes, but F32 shape [3] needs 12"},
		{"duplicate dtype field", file(entry(`"dtype":"F32","dtype":"I8",`+`"shape":[2],"data_offsets":[0,8]`), data8), "w", `duplicate "dtype"`},
		{"duplicate shape field", file(entry(ok+`,"shape":[8]`), data8), "w", `duplicate "shape"`},
		{"duplicate data_offsets field", file(entry(ok+`,"data_offsets":[0,8]`), data8), "w", `duplicate "data_offsets"`},
		{"duplicate tensor name", file(`{"w":{`+ok+`},"w":{`+ok+`}}`, data8), "w", "duplicate name"},
		{"overlap", file(`{"v":{`+ok+`},"w":{"dtype":"I8","shape":[4],"data_offsets":[4,8]}}`, data8), "w", `data_offsets [4, 8) overlap tensor "v" at [0, 8)`},
		{"overlap same range", file(`{"v":{`+ok+`},"w":{`+ok+`}}`, data8), "w", `overlap tensor "v"`},
		{"metadata not an object", file(`{"__metadata__":[1]}`, nil), "", `"__metadata__" must be an object of strings, got an array`},
		{"metadata value a number", file(`{"__metadata__":{"epoch":3}}`, nil), "", `key "epoch": value must be a string, got number 3`},
		{"metadata value an object", file(`{"__metadata__":{"cfg":{}}}`, nil), "", `key "cfg": value must be a string, got an object`},
		{"metadata duplicate key", file(`{"__metadata__":{"a":"1","a":"2"}}`, nil), "", `duplicate key "a"`},
		{"metadata twice", file(`{"__metadata__":{},"__metadata__":{}}`, nil), "", `duplicate "__metadata__"`},
	}
}

func TestParseMalformed(t *testing.T) {
	const path = "bad.safetensors"
	for _, tt := range malformedCases() {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse(path, tt.b)
			if err == nil {
				t.Fatalf("Parse succeeded with tensors %q; want error containing %q", f.Names(), tt.want)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "safetensors: "+path+": ") {
				t.Errorf("error %q does not start with %q", msg, "safetensors: "+path+": ")
			}
			if tt.tensor != "" && !strings.Contains(msg, `tensor "`+tt.tensor+`"`) {
				t.Errorf("error %q does not name tensor %q", msg, tt.tensor)
			}
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error %q does not contain %q", msg, tt.want)
			}
		})
	}
}

// TestParseAccepts lists edge cases that are valid.
func TestParseAccepts(t *testing.T) {
	data8 := make([]byte, 8)
	tests := []struct {
		name    string
		b       []byte
		tensors int
	}{
		{"empty object", file(`{}`, nil), 0},
		{"metadata only", file(`{"__metadata__":{"a":"b"}}`, nil), 0},
		{"metadata null", file(`{"__metadata__":null}`, nil), 0},
		{"zero-element tensor inside another", file(`{"v":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"z":{"dtype":"F32","shape":[0,3],"data_offsets":[4,4]}}`, data8), 2},
		{"zero-element at end of buffer", file(`{"z":{"dtype":"BF16","shape":[0],"data_offsets":[8,8]}}`, data8), 1},
		{"scalar", file(`{"s":{"dtype":"I64","shape":[],"data_offsets":[0,8]}}`, data8), 1},
		{"unknown field skipped", file(`{"s":{"dtype":"U8","shape":[8],"data_offsets":[0,8],"extra":{"x":[1,2]}}}`, data8), 1},
		{"gap and trailing bytes", file(`{"s":{"dtype":"U8","shape":[2],"data_offsets":[3,5]}}`, data8), 1},
		{"adjacent ranges", file(`{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}}`, data8), 2},
		{"header padded with spaces", file(`{}      `, nil), 0},
		{"empty name", file(`{"":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, data8), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("ok.safetensors", tt.b)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(f.Names()); got != tt.tensors {
				t.Errorf("got %d tensors, want %d", got, tt.tensors)
			}
		})
	}
}
