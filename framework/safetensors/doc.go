// Package safetensors reads and writes the Hugging Face .safetensors
// checkpoint format, and is hardened against hostile files.
//
// # Format
//
// A file is an 8-byte little-endian uint64 N, then N bytes of UTF-8 JSON
// (the header), then the data buffer:
//
//	{"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]},
//	 "__metadata__": {"key": "value"}}
//
// Offsets are byte offsets relative to the start of the data buffer and the
// range [begin, end) holds product(shape) elements, little-endian, row-major.
// Writers pad the header with spaces so that the data starts at a multiple
// of 8 bytes. Reference: https://github.com/huggingface/safetensors.
//
// # Validation
//
// [Parse] rejects, with an error that names the file and the tensor, any
// header that is not a JSON object of well-typed entries, unknown dtypes,
// negative dimensions, ranks above 64, element counts whose byte size
// overflows, ranges outside the data buffer or whose length disagrees with the
// shape, overlapping ranges, duplicate keys (the JSON decoder alone would keep
// the last one silently) and non-string metadata values. Zero-element tensors
// are allowed and may sit anywhere inside the buffer; gaps between tensors and
// trailing bytes after the last one are allowed, as in the reference reader's
// relaxed mode. No allocation exceeds a small multiple of the input size.
//
// # Conversions
//
// [File.Float32] and [File.Float64] widen or narrow any float dtype (F64, F32,
// F16, BF16); [File.Int64] widens any integer dtype (I64, I32, I16, I8, U8).
// F16 and BF16 are converted exactly, including subnormals, infinities and NaN.
//
// # Writing
//
// [Marshal] sorts tensors by name and lays their data out contiguously in that
// order. [Write] replaces the target file atomically: it writes a temporary
// file in the same directory, syncs it, renames it over the target and syncs
// the directory, so a reader sees either the old file or the new one.
package safetensors
