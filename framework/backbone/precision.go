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
	m.matMulShared(0, transA, transB, M, n, k, a, b, beta, c)
}

// shared says which operands of a product are the last product's: the
// same matrix, transpose and shape, unchanged since. In bf16 their
// converted form (kernels.BF16Packed) is read again instead of rounding
// them again, as the GPU model rounds an activation once for the group of
// products that reads it.
type shared uint8

const (
	sameA shared = 1 << iota
	sameB
)

// matMulShared is matMul with the operands same says are the last
// product's. In bf16 an operand inside the parameters (a weight) is read
// from its packed form, made on first use after Forward began (bf16Ops);
// an activation is packed once for the products that share it. The
// results are kernels.MatMulBF16's, bit for bit.
func (m *Model) matMulShared(same shared, transA, transB bool, M, n, k int, a, b []float32, beta float32, c []float32) {
	if m.Precision != BF16 {
		kernels.MatMul(transA, transB, M, n, k, a, b, beta, c)
		return
	}
	o := &m.b16
	pa := o.operand(m.Params.Data, 0, same&sameA != 0, false, transA, M, k, a)
	pb := o.operand(m.Params.Data, 0, same&sameB != 0, true, transB, k, n, b)
	kernels.MatMulBF16Packed(pa, pb, beta, c)
}

// matMuls runs the products ops in order (kernels.MatMul's arguments
// each) at the model's precision, as one group: an operand they share is
// read from memory once, with the same bits as one product after another
// (kernels.MatMuls in fp32; in bf16 kernels.MatMulsBF16Packed, each op
// after the first with the operands same says are the first one's, packed
// once). No op may read what another writes.
func (m *Model) matMuls(same shared, ops []kernels.MatMulOp) {
	if m.Precision != BF16 {
		kernels.MatMuls(ops)
		return
	}
	if len(ops) > bf16GroupMax {
		var s shared
		for _, o := range ops {
			m.matMulShared(s, o.TransA, o.TransB, o.M, o.N, o.K, o.A, o.B, o.Beta, o.C)
			s = same
		}
		return
	}
	b := &m.b16
	var g [bf16GroupMax]kernels.BF16PackedOp
	for i, o := range ops {
		var s shared
		if i > 0 {
			s = same
		}
		g[i] = kernels.BF16PackedOp{
			A:    b.operand(m.Params.Data, i, s&sameA != 0, false, o.TransA, o.M, o.K, o.A),
			B:    b.operand(m.Params.Data, i, s&sameB != 0, true, o.TransB, o.K, o.N, o.B),
			Beta: o.Beta, C: o.C}
	}
	kernels.MatMulsBF16Packed(g[:len(ops)])
}

// matMulsBF16 is matMuls where only bf16 runs the products as a group:
// fp32 runs them one after another (in_proj's pairs of products, which
// grouped measured slower in fp32, BenchmarkMatMuls, and faster in bf16,
// BenchmarkMatMulsBF16Packed).
func (m *Model) matMulsBF16(same shared, ops []kernels.MatMulOp) {
	if m.Precision == BF16 {
		m.matMuls(same, ops)
		return
	}
	for _, o := range ops {
		kernels.MatMul(o.TransA, o.TransB, o.M, o.N, o.K, o.A, o.B, o.Beta, o.C)
	}
}

// bf16GroupMax is the most products matMuls runs as one bf16 group (the
// group's activation packs, bf16Ops.ga and gb).
const bf16GroupMax = 6

// operand returns the pack of x as the A (or, isB, the B) operand of op
// i of a group: the weight's pack, the first op's activation pack (op 0's
// is packed into a or b, which the next product may share; a later op
// with same reads it), or, for a later op's own activation, its slot.
func (o *bf16Ops) operand(data []float32, i int, same, isB, trans bool, rows, cols int, x []float32) *kernels.BF16Packed {
	if w := o.weight(data, isB, trans, rows, cols, x); w != nil {
		return w
	}
	if p := o.prepacked(isB, trans, rows, cols, x); p != nil {
		return p
	}
	act := &o.a
	if isB {
		act = &o.b
	}
	if i > 0 && !same {
		act = &o.ga[i]
		if isB {
			act = &o.gb[i]
		}
	}
	act.src.pack(same, &act.BF16Packed, isB, trans, rows, cols, x)
	return &act.BF16Packed
}

// nt is the product c = a·wᵀ + beta·c of a weight w: Step's (stepMatMul)
// when step, else Forward's (with a the last product's when same).
func (m *Model) nt(step bool, same shared, M, n, k int, a, w []float32, beta float32, c []float32) {
	if step {
		m.stepMatMul(M, n, k, a, w, beta, c)
		return
	}
	m.matMulShared(same, false, true, M, n, k, a, w, beta, c)
}

// bf16Ops is what the bf16 products of Forward and Backward convert to
// bfloat16 once and read several times: each weight in the form its
// products read (B of Forward's a·wᵀ, B of Backward's g·w), packed on
// first use after Forward began, so at most twice a training step
// whatever changed the parameters before; and the activation operands of
// the product at hand, kept for the next one that shares them.
type bf16Ops struct {
	gen     int // Forwards begun: a weight's pack of an older gen is stale
	weights map[bf16Key]*bf16Weight
	a, b    bf16Activation
	// ga, gb: the activation operands of a group's ops after the first
	// that are not the first's (matMuls); slot 0 unused.
	ga, gb [bf16GroupMax]bf16Activation
	// pre: the packs packGrad and packAct made, read by the products
	// that name their source until dropPacks; npre of them in use.
	pre  [bf16PreMax]bf16Activation
	npre int
	// kept: packAct's packs of Forward's activations as the B of the
	// weight gradients' products, read by Backward; nkept in use, all
	// dropped when the next Forward begins.
	kept  []bf16Activation
	nkept int
	// preOff (tests): packGrad and packAct pack nothing, every operand is
	// packed apart; preHits counts the products that read one of their
	// packs.
	preOff  bool
	preHits int
}

// bf16PreMax is the most packs packGrad keeps at once: both forms of the
// four gradients a layer's backward packs ahead (dResid, dΔ, dz, dXin).
const bf16PreMax = 8

// packGrad packs x (rows, cols), in bf16 with cols even, in one pass as
// the A of a product by rows (x·w) and the A of its transpose (xᵀ·…), for
// the products after it that read x both ways until the next dropPacks:
// a gradient read by its input gradient's product and its weight
// gradient's, converted once instead of twice (kernels.PackRowsPairs; the
// same bits). x must not change until dropPacks.
func (m *Model) packGrad(rows, cols int, x []float32) {
	o := &m.b16
	if m.Precision != BF16 || cols%2 != 0 || o.npre+2 > bf16PreMax || o.preOff {
		return
	}
	r, p := &o.pre[o.npre], &o.pre[o.npre+1]
	kernels.PackRowsPairs(&r.BF16Packed, &p.BF16Packed, false, rows, cols, x)
	r.src, p.src = srcOf(x, false, rows, cols), srcOf(x, true, cols, rows)
	o.npre += 2
}

// packAct is packGrad for an activation of Forward (rows, cols) that
// Backward reads as the B of a weight gradient's product (gᵀ·x): the A of
// Forward's product by rows until dropPacks, and the B kept for Backward
// until the next Forward. Only when a Backward can follow (targets): x
// must not change until then.
func (m *Model) packAct(rows, cols int, x []float32) {
	o := &m.b16
	if m.Precision != BF16 || cols%2 != 0 || o.npre+1 > bf16PreMax || o.preOff || !m.acts.hasTargets {
		return
	}
	if o.nkept == len(o.kept) {
		o.kept = append(o.kept, bf16Activation{})
	}
	r, p := &o.pre[o.npre], &o.kept[o.nkept]
	kernels.PackRowsPairs(&r.BF16Packed, &p.BF16Packed, true, rows, cols, x)
	r.src = srcOf(x, false, rows, cols)
	p.src = r.src
	o.npre++
	o.nkept++
}

// dropPacks forgets packGrad's packs and the A forms of packAct's (before
// their sources change).
func (m *Model) dropPacks() { m.b16.npre = 0 }

// prepacked returns packGrad's or packAct's pack of x as the A (or, isB,
// the B) operand op(x) (rows, cols), or nil.
func (o *bf16Ops) prepacked(isB, trans bool, rows, cols int, x []float32) *kernels.BF16Packed {
	src := srcOf(x, trans, rows, cols)
	packs := o.pre[:o.npre]
	if isB {
		packs = o.kept[:o.nkept]
	}
	for i := range packs {
		if packs[i].src == src {
			o.preHits++
			return &packs[i].BF16Packed
		}
	}
	return nil
}

// bf16Key is a packed weight: its offset in Params.Data, role, transpose
// and shape.
type bf16Key struct {
	off, rows, cols int
	isB, trans      bool
}

type bf16Weight struct {
	kernels.BF16Packed
	gen int
}

// bf16Activation is an activation operand's pack and what it was packed
// from.
type bf16Activation struct {
	kernels.BF16Packed
	src bf16Src
}

type bf16Src struct {
	p               *float32
	trans           bool
	rows, cols, len int
}

// srcOf is what op(x) (rows, cols) is packed from.
func srcOf(x []float32, trans bool, rows, cols int) bf16Src {
	return bf16Src{unsafe.SliceData(x), trans, rows, cols, len(x)}
}

// pack packs x into p unless same, in which case x must be what p holds.
func (s *bf16Src) pack(same bool, p *kernels.BF16Packed, isB, trans bool, rows, cols int, x []float32) {
	src := srcOf(x, trans, rows, cols)
	if same {
		if *s != src {
			panic("backbone: a bf16 product shares an operand the last product did not read")
		}
		return
	}
	*s = src
	packAs(p, isB, trans, rows, cols, x)
}

// packAs packs x into p as the B operand of a product when isB, else as
// the A.
func packAs(p *kernels.BF16Packed, isB, trans bool, rows, cols int, x []float32) {
	if isB {
		p.PackB(trans, rows, cols, x)
	} else {
		p.PackA(trans, rows, cols, x)
	}
}

// weight returns the pack of x as the A (or, isB, the B) operand when x
// is a view of the parameters data, packing it when it has not been since
// Forward began; nil when x is not a weight.
func (o *bf16Ops) weight(data []float32, isB, trans bool, rows, cols int, x []float32) *kernels.BF16Packed {
	base := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(x)))
	if len(x) == 0 || p < base || p >= base+4*uintptr(len(data)) {
		return nil
	}
	key := bf16Key{int(p-base) / 4, rows, cols, isB, trans}
	w := o.weights[key]
	if w == nil {
		if o.weights == nil {
			o.weights = make(map[bf16Key]*bf16Weight)
		}
		w = &bf16Weight{gen: o.gen - 1}
		o.weights[key] = w
	}
	if w.gen != o.gen {
		packAs(&w.BF16Packed, isB, trans, rows, cols, x)
		w.gen = o.gen
	}
	return &w.BF16Packed
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
