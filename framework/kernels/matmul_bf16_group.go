package kernels

import "unsafe"

// BF16PackedOp is one product of MatMulsBF16Packed: c = A·B + beta·c, A
// packed by PackA (m, k), B by PackB (k, n), c (m, n) (MatMulBF16Packed's
// arguments).
type BF16PackedOp struct {
	A, B *BF16Packed
	Beta float32
	C    []float32
}

// MatMulsBF16Packed computes the products ops in order with the bits of
// MatMulBF16Packed on each in turn, reading an operand several of them
// share from memory once: MatMuls for bf16 products whose operands are
// packed (the model's x_proj blocks all read u, add into dU and read u
// again for their weight gradients).
//
// Where every op has the same number of rows (and none has fewer than it
// has columns, or the ops cannot go by columns), the tile rows are split
// over the workers and each worker runs every op on a block of
// bf16GroupTiles tile rows before the next block, so that a shared A or
// c stays in the caches between the ops. Where the ops have the same
// columns and k (x_proj's weight gradients, one packed u as B), each
// worker takes whole tile columns and runs, for each pass over k, every op
// on it, so that the pass's sliver of a shared B stays in L1. Either way
// each tile of each c is computed by the same tile kernel from the same
// pair words with its passes over k in order, as MatMulBF16Packed does:
// the blocks only decide which worker computes which tile.
//
// The ops may share A, B and c (products summed into one c, each after
// the last); ops that write one c go by rows, and two c's are either the
// same matrix or apart. Otherwise, or with empty products, the ops run one
// MatMulBF16Packed after another.
func MatMulsBF16Packed(ops []BF16PackedOp) {
	for _, o := range ops {
		if o.A.isB || !o.B.isB || o.A.cols != o.B.rows {
			panic("kernels: matmuls bf16 packed: want A's (m, k) from PackA and B's (k, n) from PackB")
		}
		if len(o.C) < o.A.rows*o.B.cols {
			panic("kernels: matmuls bf16 packed: buffer too short")
		}
	}
	if bf16Tile == nil {
		// go: the packs are the rounded float32 operands, and
		// MatMulBF16Packed is MatMul on them; MatMuls gives the bits of
		// MatMul on each in turn.
		if len(ops) > gemmGroupMax {
			matMulsBF16OneByOne(ops)
			return
		}
		var mo [gemmGroupMax]MatMulOp
		for i, o := range ops {
			a, b := o.A, o.B
			mo[i] = MatMulOp{TransA: a.trans, TransB: b.trans, M: a.rows, N: b.cols, K: a.cols, A: a.f, B: b.f, Beta: o.Beta, C: o.C}
		}
		MatMuls(mo[:len(ops)])
		return
	}
	var g bf16GroupTask
	if !g.plan(ops) {
		matMulsBF16OneByOne(ops)
		return
	}
	buf := bf16Bufs.get()
	if buf == nil {
		buf = new(bf16Buf)
	}
	defer bf16Bufs.put(buf)
	flops := 0
	for _, o := range ops {
		flops += 2 * o.A.rows * o.B.cols * o.A.cols
	}
	p := min(Threads(), max(1, flops/gemmMinFlops), g.units)
	if cap(buf.t) < p*bf16MR*bf16NR {
		buf.t = make([]float32, p*bf16MR*bf16NR)
	}
	for i := range g.n {
		g.ops[i].edge = buf.t[:p*bf16MR*bf16NR]
	}
	if p <= 1 {
		g.part(0, 0, g.units)
		return
	}
	bf16GroupTeam.run(g.units, p, g)
}

// matMulsBF16OneByOne runs ops one MatMulBF16Packed after another.
func matMulsBF16OneByOne(ops []BF16PackedOp) {
	for _, o := range ops {
		MatMulBF16Packed(o.A, o.B, o.Beta, o.C)
	}
}

// bf16GroupTiles is the tile rows of each block of MatMulsBF16Packed's
// route by rows: 336 rows, as MatMuls' gemmGroupRows (a block of a
// 256-word-wide A or a 256-float-wide c, 336 KiB, stays in L2 between the
// ops).
const bf16GroupTiles = gemmGroupRows / bf16MR

var bf16GroupTeam team[bf16GroupTask, *bf16GroupTask]

// bf16GroupTask is MatMulsBF16Packed's products, each as the tile phase
// of MatMulBF16Packed (bf16Task), by tile rows, or tile columns when cols.
type bf16GroupTask struct {
	ops   [gemmGroupMax]bf16Task
	n     int
	cols  bool
	units int
}

// plan reports whether ops can run as a group, and if so sets g up: ops
// of one m by rows (by columns instead when they also have one n and k,
// a c each, and more columns than rows).
func (g *bf16GroupTask) plan(ops []BF16PackedOp) bool {
	if len(ops) < 2 || len(ops) > gemmGroupMax {
		return false
	}
	m, n, k := ops[0].A.rows, ops[0].B.cols, ops[0].A.cols
	rows, cols := true, true
	for i, o := range ops {
		mi, ni, ki := o.A.rows, o.B.cols, o.A.cols
		if mi == 0 || ni == 0 || ki == 0 {
			return false
		}
		rows = rows && mi == m
		cols = cols && ni == n && ki == k && mi < ni
		for _, p := range ops[:i] {
			c, d := o.C[:mi*ni], p.C[:p.A.rows*p.B.cols]
			if !overlaps(c, d) {
				continue
			}
			cols = false
			if unsafe.SliceData(c) != unsafe.SliceData(d) || ni != p.B.cols || mi != p.A.rows {
				return false
			}
		}
		a, b := o.A, o.B
		g.ops[i] = bf16Task{tile: bf16Tile, transA: a.trans, transB: b.trans, m: mi, n: ni, k: ki, beta: o.Beta, c: o.C,
			pa: a.w, pb: b.w, k2: (ki + 1) / 2, m14: roundUp(mi, bf16MR), n32: roundUp(ni, bf16NR)}
	}
	g.n = len(ops)
	switch {
	case cols:
		g.cols, g.units = true, g.ops[0].n32/bf16NR
	case rows:
		g.units = g.ops[0].m14 / bf16MR
	default:
		return false
	}
	return true
}

// part runs tile rows (or tile columns) [lo, hi) of every op on worker w:
// by rows, bf16GroupTiles tile rows of each op in turn; by columns, for
// each tile column, each pass over k of each op in turn.
func (g *bf16GroupTask) part(w, lo, hi int) {
	ops := g.ops[:g.n]
	if !g.cols {
		for b0 := lo; b0 < hi; b0 += bf16GroupTiles {
			i0, i1 := b0*bf16MR, min(b0+bf16GroupTiles, hi)*bf16MR
			for i := range ops {
				ops[i].tiles(w, i0, i1, 0, ops[i].n32)
			}
		}
		return
	}
	k2 := ops[0].k2
	for j := lo; j < hi; j++ {
		j0, j1 := j*bf16NR, (j+1)*bf16NR
		for qc := 0; qc < k2; qc += bf16KC / 2 {
			for i := range ops {
				ops[i].pass(w, qc, 0, ops[i].m14, j0, j1)
			}
		}
	}
}
