package safetensors

import "math"

// DType names an element type as spelled in the safetensors header:
// "F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8" or "BOOL".
type DType string

// Size returns the number of bytes per element, or 0 if d is not supported.
func (d DType) Size() int {
	switch d {
	case "F64", "I64":
		return 8
	case "F32", "I32":
		return 4
	case "F16", "BF16", "I16":
		return 2
	case "I8", "U8", "BOOL":
		return 1
	}
	return 0
}

// f16ToF32 converts an IEEE 754 binary16 value to float32 exactly.
// Every binary16 value, subnormals included, is representable in float32.
func f16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch exp {
	case 0x1f: // Inf or NaN; the payload moves to the top of the float32 mantissa.
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case 0:
		// Zero or subnormal: mant·2⁻²⁴, a normal float32 when mant ≠ 0.
		f := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	}
	// Rebias the exponent from 15 to 127.
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// bf16ToF32 converts a bfloat16 value, the top half of a float32, exactly.
func bf16ToF32(h uint16) float32 {
	return math.Float32frombits(uint32(h) << 16)
}
