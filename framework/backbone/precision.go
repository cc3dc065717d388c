package backbone

import (
	"fmt"
	"strings"
	"unsafe"

	"github.com/mambakit/mambakit/framework/kernels"
)

// Precision names how a model's matrix products are computed. It is the
// one registry of precisions: a flag.Value (and pflag.Value), so Set is
// the one place a precision name is checked.
//
//	fp32  float32 inputs, float32 sums (kernels.MatMul): the default
//	tf32  on a GPU only: inputs rounded to TF32 (10 bits of mantissa) by
//	      the tensor cores, float32 sums
//	bf16  inputs rounded to bfloat16, float32 sums (kernels.MatMulBF16 on
//	      the CPU, cuBLAS's bfloat16 tensor cores on a GPU)
//
// Only the products change. Parameters, gradients and AdamW's moments
// stay float32 (the float32 weights are the master copy; each product
// rounds what it reads), and so do the scan, the convolution, the norms,
// the element-wise passes and the loss. The recurrent Step rounds the
// same inputs, reading its weights from a bfloat16 copy made once
// (generation streams half the bytes a token). docs/training.md,
// "Precision".
type Precision string

// The precisions.
const (
	FP32 Precision = "fp32"
	TF32 Precision = "tf32"
	BF16 Precision = "bf16"
)

// Precisions lists the names Set accepts, the default first.
var Precisions = []Precision{FP32, TF32, BF16}

// OnCPU reports whether the CPU computes p: TF32 is a format of the
// GPU's tensor cores only.
func (p Precision) OnCPU() bool { return p != TF32 }

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
	return fmt.Errorf("precision %q: want %s", s, strings.Join(names, ", "))
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

// nt is the product c = a·wᵀ + beta·c of a weight w: Step's (stepMatMul)
// when step, else Forward's.
func (m *Model) nt(step bool, M, n, k int, a, w []float32, beta float32, c []float32) {
	if step {
		m.stepMatMul(M, n, k, a, w, beta, c)
		return
	}
	m.matMul(false, true, M, n, k, a, w, beta, c)
}

// stepMatMul is every product of Step: c = a·wᵀ + beta·c for a weight w
// (a view of Params.Data) at the model's precision; in bf16 from the
// bfloat16 copy of w (kernels.MatMulBF16W), the same products as
// kernels.MatMulBF16 computes from w.
func (m *Model) stepMatMul(M, n, k int, a, w []float32, beta float32, c []float32) {
	if m.Precision == BF16 {
		kernels.MatMulBF16W(M, n, k, a, m.weightsBF16(w), beta, c)
		return
	}
	kernels.MatMul(false, true, M, n, k, a, w, beta, c)
}

// weightsBF16 returns the bfloat16 copy of w, a view of Params.Data,
// converting all the parameters first when the copy is out of date.
func (m *Model) weightsBF16(w []float32) []uint16 {
	data := m.Params.Data
	if len(w) == 0 {
		return nil
	}
	if !m.w16ok {
		if len(m.w16) != len(data) {
			m.w16 = make([]uint16, len(data))
		}
		kernels.ToBF16(m.w16, data)
		m.w16ok = true
	}
	off := (uintptr(unsafe.Pointer(unsafe.SliceData(w))) - uintptr(unsafe.Pointer(unsafe.SliceData(data)))) / 4
	if off+uintptr(len(w)) > uintptr(len(data)) {
		panic("backbone: weightsBF16: w is not a view of the parameters")
	}
	return m.w16[off : off+uintptr(len(w))]
}
