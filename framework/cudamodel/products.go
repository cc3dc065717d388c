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
// they change (Step, Upload). The kernels that produce the activations
// the products read (the convolution: u and dXin; the scan: y, dΔ and dz;
// RMSNorm: xn, xnF and dResid; the cross-entropy: the logits' gradient)
// also write them rounded to bfloat16, the same bits as rounding after;
// the few others (dtLow, x_proj's gradients) are rounded once for the
// products that read them (products).
//
// A Stepper takes the precision when it is made (NewStepper after
// SetPrecision). With more rows than its own kernels take (past
// cudakernels.StepMaxRows, fewer when rows are wide) its cuBLAS products
// are TF32 under tf32, and under bf16 they read bfloat16 operands as
// training does: the weights from the same bfloat16 copy of the
// parameters, the activations (xn, u, y) written in bfloat16 by the
// step's kernels that produce them, and the scan step rounds Δ's
// projection inputs. One row under bf16 runs the early step kernels on
// the same bfloat16 weights (step_gemv_e16, which rounds the x it stages;
// the scan rounds Δ's projection inputs). Its kernels of 2 to 8 rows, and
// one row under tf32 or without the early form, run the products in
// float32 whatever the precision (Stepper.Products says so). The math
// mode is the device's cuBLAS handle's, so it applies to every model on
// the device.
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
// copy and scratch buffers for activation operands, one for each distinct
// activation a group of products reads.
type bf16Products struct {
	params  *cuda.Buffer // bfloat16 copy of g.params
	fresh   bool         // params matches g.params
	ver     uint64       // bumped each time params is written (a Stepper's graphs read it where it is)
	scratch []*cuda.Buffer
}

// paramsChanged marks the bfloat16 copy of the parameters out of date.
func (g *Model) paramsChanged() { g.b16.fresh = false }

// precision is the precision of the model's products (SetPrecision).
func (g *Model) precision() backbone.Precision {
	switch {
	case g.bf16:
		return backbone.BF16
	case g.blas.Math() == cuda.MathTF32:
		return backbone.TF32
	}
	return backbone.FP32
}

// paramsBF16 makes the bfloat16 copy of the parameters (allocated on
// first use) when it is out of date, on the default stream: the caller
// orders it against work on other streams.
func (g *Model) paramsBF16() error {
	b := &g.b16
	if b.params == nil {
		var err error
		if b.params, err = g.dev.Alloc(2 * g.lay.total); err != nil {
			return err
		}
		b.fresh = false
	}
	if b.fresh {
		return nil
	}
	if err := g.dev.ToBF16(b.params.Ptr(), g.params.Ptr(), g.lay.total); err != nil {
		return err
	}
	b.fresh = true
	b.ver++
	return nil
}

// weightBF16 is the address of the bfloat16 copy of the parameter at p
// (a view of g.params; paramsBF16 made the copy).
func (g *Model) weightBF16(p cuda.DevPtr) cuda.DevPtr {
	return g.b16.params.Ptr() + (p-g.params.Ptr())/2
}

// product is one matrix product of a pass, c = op(a)·op(b) + beta·c
// (cuda.BLAS.MatMul's arguments, every matrix dense), named for op timing.
// a16 and b16, when set, hold the operands' bfloat16 form already (written
// so by their producer): bf16 precision reads them instead of rounding a
// and b; the other precisions read a and b and ignore them.
type product struct {
	name           string
	transA, transB bool
	m, n, k        int
	a, b           cuda.DevPtr
	a16, b16       cuda.DevPtr
	beta           float32
	c              cuda.DevPtr
}

// products runs every product of Forward and Backward, in order, at the
// model's precision. In bf16 an operand with a bfloat16 form (a16, b16)
// is read as it is; one inside the parameters is read from their
// bfloat16 copy; any other (an activation) is rounded into a scratch
// buffer first, once for the group: a linear layer's backward reads its
// output gradient twice (dx and dW), x_proj reads u three times. So no
// product of a group may write what another of it reads; products checks.
func (g *Model) products(e *errs, ps ...product) {
	if e.err != nil {
		return
	}
	if !g.bf16 {
		for _, q := range ps {
			e.op(q.name, g.blas.MatMul(q.transA, q.transB, q.m, q.n, q.k, q.a, q.b, q.beta, q.c))
		}
		return
	}
	if err := checkGroup(ps); err != nil {
		e.do(err)
		return
	}
	type key struct {
		p cuda.DevPtr
		n int
	}
	rounded := map[key]cuda.DevPtr{}
	operand := func(p, p16 cuda.DevPtr, n int) (cuda.DevPtr, bool, error) {
		if p16 != 0 {
			return p16, false, nil
		}
		if x, ok := rounded[key{p, n}]; ok {
			return x, false, nil
		}
		x, fresh, err := g.operandBF16(len(rounded), p, n)
		if err == nil && fresh {
			rounded[key{p, n}] = x
		}
		return x, fresh, err
	}
	for _, q := range ps {
		a16, ra, err := operand(q.a, q.a16, q.m*q.k)
		if err == nil {
			var rb bool
			var b16 cuda.DevPtr
			b16, rb, err = operand(q.b, q.b16, q.k*q.n)
			if err == nil && (ra || rb) {
				err = g.ops.mark("to_bf16 (operands)")
			}
			if err == nil {
				err = g.blas.MatMulBF16(q.transA, q.transB, q.m, q.n, q.k, a16, b16, q.beta, q.c)
			}
		}
		e.op(q.name, err)
		if e.err != nil {
			return
		}
	}
}

// checkGroup: no product of ps (bf16 precision) writes an operand another
// of ps reads, in the form it reads it.
func checkGroup(ps []product) error {
	overlap := func(p0 cuda.DevPtr, n0 int, p1 cuda.DevPtr, n1 int) bool {
		return p0 < p1+cuda.DevPtr(n1) && p1 < p0+cuda.DevPtr(n0)
	}
	read := func(p, p16 cuda.DevPtr, n int) (cuda.DevPtr, int) {
		if p16 != 0 {
			return p16, 2 * n
		}
		return p, 4 * n
	}
	for i, w := range ps {
		for j, r := range ps {
			ap, an := read(r.a, r.a16, r.m*r.k)
			bp, bn := read(r.b, r.b16, r.k*r.n)
			if i != j && (overlap(w.c, 4*w.m*w.n, ap, an) || overlap(w.c, 4*w.m*w.n, bp, bn)) {
				return fmt.Errorf("cudamodel: internal: product %q writes what %q of its group reads", w.name, r.name)
			}
		}
	}
	return nil
}

// operandBF16 returns the bfloat16 form of the n float32s at p: a view of
// the parameters' copy (made first when out of date; fresh false), or p
// rounded into scratch buffer i (fresh true).
func (g *Model) operandBF16(i int, p cuda.DevPtr, n int) (x cuda.DevPtr, fresh bool, err error) {
	b := &g.b16
	base := g.params.Ptr()
	if p >= base && p < base+cuda.DevPtr(g.params.Bytes()) {
		if err := g.paramsBF16(); err != nil {
			return 0, false, err
		}
		return g.weightBF16(p), false, nil
	}
	for len(b.scratch) <= i {
		b.scratch = append(b.scratch, nil)
	}
	if s := b.scratch[i]; s == nil || s.Bytes() < 2*n {
		if s != nil {
			// A product before may still read it: wait, then free.
			if err := g.dev.Synchronize(); err != nil {
				return 0, false, err
			}
			s.Free()
		}
		if b.scratch[i], err = g.dev.Alloc(2 * n); err != nil {
			b.scratch[i] = nil
			return 0, false, err
		}
	}
	out := b.scratch[i].Ptr()
	return out, true, g.dev.ToBF16(out, p, n)
}

// freeBF16 frees the bf16 buffers.
func (g *Model) freeBF16() []error {
	var errs []error
	for _, x := range append([]*cuda.Buffer{g.b16.params}, g.b16.scratch...) {
		if x != nil {
			errs = append(errs, x.Free())
		}
	}
	g.b16 = bf16Products{}
	return errs
}
