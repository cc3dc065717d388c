package backbone

import (
	"fmt"
	"strings"

	"github.com/mambakit/mambakit/framework/kernels"
)

// Precision names how a model's matrix products are computed. It is the
// one registry of precisions: a flag.Value (and pflag.Value), so Set is
// the one place a precision name is checked.
//
//	fp32  float32 inputs, float32 sums (kernels.MatMul): the default
//	bf16  inputs rounded to bfloat16, float32 sums (kernels.MatMulBF16)
//
// Only the products change. Parameters, gradients and AdamW's moments
// stay float32 (the float32 weights are the master copy; each product
// rounds what it reads), and so do the scan, the convolution, the norms,
// the element-wise passes and the loss. docs/training.md, "Precision".
type Precision string

// The precisions.
const (
	FP32 Precision = "fp32"
	BF16 Precision = "bf16"
)

// Precisions lists the names Set accepts, the default first.
var Precisions = []Precision{FP32, BF16}

// Set parses a precision name.
func (p *Precision) Set(s string) error {
	for _, v := range Precisions {
		if string(v) == s {
			*p = v
			return nil
		}
	}
	names := make([]string, len(Precisions))
	for i, v := range Precisions {
		names[i] = string(v)
	}
	return fmt.Errorf("precision %q: want %s", s, strings.Join(names, " or "))
}

// String is the name; "" is fp32.
func (p Precision) String() string {
	if p == "" {
		return string(FP32)
	}
	return string(p)
}

// Type names the value in flag help (pflag.Value).
func (Precision) Type() string { return "precision" }

// matMul is every matrix product of Forward and Backward: c = op(a)·op(b)
// + beta·c (kernels.MatMul's arguments) at the model's precision.
func (m *Model) matMul(transA, transB bool, M, n, k int, a, b []float32, beta float32, c []float32) {
	if m.Precision == BF16 {
		kernels.MatMulBF16(transA, transB, M, n, k, a, b, beta, c)
		return
	}
	kernels.MatMul(transA, transB, M, n, k, a, b, beta, c)
}
