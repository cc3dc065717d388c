package cudamodel

import (
	"fmt"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/cuda"
)

// SetPrecision sets how the projections of Forward and Backward are
// computed: fp32 (the default), tf32 (cuBLAS's TF32 tensor cores, about
// 1e-3 relative error in each product) or bf16 (both operands rounded to
// bfloat16, ties to even, cuBLAS's bfloat16 tensor cores, float32 sums
// and outputs: backbone.BF16's arithmetic). Parameters, gradients, the
// AdamW moments, activations, the scan, the norms and the loss stay
// float32; bf16 keeps a bfloat16 copy of the parameters, made again after
// they change (Step, Upload), and rounds each activation operand as a
// product reads it. The one-token Step stays float32 up to
// cudakernels.StepMaxRows rows (its own kernels); past that its cuBLAS
// products are TF32 under tf32 and float32 otherwise. The math mode is the device's cuBLAS handle's, so it
// applies to every model on the device.
func (g *Model) SetPrecision(p backbone.Precision) error {
	m := cuda.MathFP32
	switch p {
	case "", backbone.FP32, backbone.BF16:
	case backbone.TF32:
		m = cuda.MathTF32
	default:
		return fmt.Errorf("cudamodel: precision %q", p)
	}
	if err := g.blas.SetMath(m); err != nil {
		return err
	}
	g.bf16 = p == backbone.BF16
	return nil
}

// bf16Products holds what bf16 products read: the parameters' bfloat16
// copy and two scratch buffers for activation operands.
type bf16Products struct {
	params  *cuda.Buffer // bfloat16 copy of g.params
	fresh   bool         // params matches g.params
	scratch [2]*cuda.Buffer
}

// paramsChanged marks the bfloat16 copy of the parameters out of date.
func (g *Model) paramsChanged() { g.b16.fresh = false }

// matMul is every product of Forward and Backward: c = op(a)·op(b) +
// beta·c (cuda.BLAS.MatMul's arguments) at the model's precision. In bf16
// an operand inside the parameters is read from their bfloat16 copy; any
// other is rounded into a scratch buffer first.
func (g *Model) matMul(transA, transB bool, m, n, k int, a, b cuda.DevPtr, beta float32, c cuda.DevPtr) error {
	if !g.bf16 {
		return g.blas.MatMul(transA, transB, m, n, k, a, b, beta, c)
	}
	a16, err := g.operandBF16(0, a, m*k)
	if err != nil {
		return err
	}
	b16, err := g.operandBF16(1, b, k*n)
	if err != nil {
		return err
	}
	if err := g.ops.mark("to_bf16 (operands)"); err != nil {
		return err
	}
	return g.blas.MatMulBF16(transA, transB, m, n, k, a16, b16, beta, c)
}

// operandBF16 returns the bfloat16 form of the n float32s at p: a view of
// the parameters' copy (made first when out of date), or p rounded into
// scratch buffer i.
func (g *Model) operandBF16(i int, p cuda.DevPtr, n int) (cuda.DevPtr, error) {
	b := &g.b16
	base := g.params.Ptr()
	if p >= base && p < base+cuda.DevPtr(g.params.Bytes()) {
		if b.params == nil {
			var err error
			if b.params, err = g.dev.Alloc(2 * g.lay.total); err != nil {
				return 0, err
			}
		}
		if !b.fresh {
			if err := g.dev.ToBF16(b.params.Ptr(), base, g.lay.total); err != nil {
				return 0, err
			}
			b.fresh = true
		}
		return b.params.Ptr() + (p-base)/2, nil
	}
	if s := b.scratch[i]; s == nil || s.Bytes() < 2*n {
		if s != nil {
			// The product before may still read it: wait, then free.
			if err := g.dev.Synchronize(); err != nil {
				return 0, err
			}
			s.Free()
		}
		var err error
		if b.scratch[i], err = g.dev.Alloc(2 * n); err != nil {
			b.scratch[i] = nil
			return 0, err
		}
	}
	out := b.scratch[i].Ptr()
	return out, g.dev.ToBF16(out, p, n)
}

// freeBF16 frees the bf16 buffers.
func (g *Model) freeBF16() []error {
	var errs []error
	for _, x := range append([]*cuda.Buffer{g.b16.params}, g.b16.scratch[:]...) {
		if x != nil {
			errs = append(errs, x.Free())
		}
	}
	g.b16 = bf16Products{}
	return errs
}
