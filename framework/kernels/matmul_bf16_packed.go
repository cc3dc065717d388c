package kernels

// BF16Packed is one operand of MatMulBF16 converted to bfloat16 once, in
// the form the bf16 product reads, so that several products read it
// without converting it again: a weight between optimizer steps, an
// activation that several products read (x_proj's three products read
// u). On the model's products converting an operand takes a sizeable
// share of the product's time (a pass over a float32 matrix that is
// often out of cache), so a training step converts each operand once.
//
// PackA and PackB fill it as the A or the B operand of
// MatMulBF16Packed, which computes what MatMulBF16 computes on the float32
// matrices, bit for bit. A BF16Packed keeps its memory from one packing to
// the next; the zero value is empty.
type BF16Packed struct {
	w          []uint32  // avx512: pair words (matmul_bf16_blocked.go's layouts)
	f          []float32 // go: the operand rounded to bfloat16, as float32
	isB        bool      // packed as B (else as A)
	trans      bool
	rows, cols int // op(A)'s m×k, or op(B)'s k×n
}

// PackA packs op(a) as the A operand: m×k, a (m, k), or a (k, m) when
// trans.
func (p *BF16Packed) PackA(trans bool, m, k int, a []float32) {
	if m < 0 || k < 0 || len(a) < m*k {
		panic("kernels: bf16 pack A: buffer too short")
	}
	p.pack(false, trans, m, k, a)
}

// PackB packs op(b) as the B operand: k×n, b (k, n), or b (n, k) when
// trans.
func (p *BF16Packed) PackB(trans bool, k, n int, b []float32) {
	if k < 0 || n < 0 || len(b) < k*n {
		panic("kernels: bf16 pack B: buffer too short")
	}
	p.pack(true, trans, k, n, b)
}

func (p *BF16Packed) pack(isB, trans bool, rows, cols int, x []float32) {
	p.isB, p.trans, p.rows, p.cols = isB, trans, rows, cols
	if bf16Tile == nil {
		p.f = growF32(p.f, rows*cols)
		bf16ConvInUse.roundF32(p.f, x[:rows*cols])
		return
	}
	if rows == 0 || cols == 0 {
		p.w = p.w[:0]
		return
	}
	t := bf16Task{conv: bf16ConvInUse}
	if isB {
		t.transB, t.k, t.n, t.b = trans, rows, cols, x
		t.k2, t.n32 = (rows+1)/2, roundUp(cols, bf16NR)
		p.w = growU32(p.w, t.k2*t.n32)
		t.pb = p.w
	} else {
		t.transA, t.m, t.k, t.a = trans, rows, cols, x
		t.k2, t.m14 = (cols+1)/2, roundUp(rows, bf16MR)
		p.w = growU32(p.w, t.m14*t.k2)
		t.pa = p.w
	}
	t.convertBoth()
}

// MatMulBF16Packed is MatMulBF16 on packed operands:
//
//	c = A·B + beta·c     A (m, k) packed by PackA, B (k, n) by PackB, c (m, n)
//
// with the same bits as MatMulBF16 on the float32 matrices A and B were
// packed from.
func MatMulBF16Packed(a, b *BF16Packed, beta float32, c []float32) {
	if a.isB || !b.isB || a.cols != b.rows {
		panic("kernels: matmul bf16 packed: want an A (m, k) from PackA and a B (k, n) from PackB")
	}
	m, n, k := a.rows, b.cols, a.cols
	if len(c) < m*n {
		panic("kernels: matmul bf16 packed: buffer too short")
	}
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		scaleC(beta, c[:m*n])
		return
	}
	if bf16Tile == nil {
		MatMul(a.trans, b.trans, m, n, k, a.f, b.f, beta, c)
		return
	}
	buf := bf16Bufs.get()
	if buf == nil {
		buf = new(bf16Buf)
	}
	defer bf16Bufs.put(buf)
	t := bf16Task{tile: bf16Tile, transA: a.trans, transB: b.trans, m: m, n: n, k: k, beta: beta, c: c,
		pa: a.w, pb: b.w, k2: (k + 1) / 2, m14: roundUp(m, bf16MR), n32: roundUp(n, bf16NR)}
	t.multiply(buf)
}

func growF32(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// PackRowsPairs packs x (m, k), k even, as the operands of two products
// in one pass over x, for a matrix that one product reads by rows and
// another by pairs of rows (a gradient that is the A of its input
// gradient's product and, transposed, of its weight gradient's):
//
//	rows   as PackA(false, m, k, x): the A of x·…
//	pairs  as PackA(true, k, m, x): the A of xᵀ·…, or, pairsB, as
//	       PackB(false, m, k, x): the B of …·x
//
// with the same bits as the two packs apart. Reading x once instead of
// twice matters because x is usually out of cache.
func PackRowsPairs(rows, pairs *BF16Packed, pairsB bool, m, k int, x []float32) {
	if m < 0 || k < 0 || k%2 != 0 || len(x) < m*k {
		panic("kernels: bf16 pack rows and pairs: want k even and x (m, k)")
	}
	if bf16Tile == nil || m == 0 || k == 0 {
		rows.PackA(false, m, k, x)
		if pairsB {
			pairs.PackB(false, m, k, x)
		} else {
			pairs.PackA(true, k, m, x)
		}
		return
	}
	rows.isB, rows.trans, rows.rows, rows.cols = false, false, m, k
	m14 := roundUp(m, bf16MR)
	rows.w = growU32(rows.w, m14*(k/2))
	pairs.isB, pairs.trans = pairsB, !pairsB
	stride := roundUp(k, bf16MR)
	if pairsB {
		pairs.rows, pairs.cols = m, k
		stride = roundUp(k, bf16NR)
	} else {
		pairs.rows, pairs.cols = k, m
	}
	units := (m + 1) / 2
	pairs.w = growU32(pairs.w, units*stride)
	t := bf16Both{conv: bf16ConvInUse, m: m, k: k, stride: stride, x: x, rows: u16(rows.w), pairs: pairs.w}
	if p := min(Threads(), max(1, m*k/(64<<10)), units); p > 1 {
		bf16BothTeam.run(units, p, t)
	} else {
		t.part(0, 0, units)
	}
	clear(t.rows[m*k:])
}

var bf16BothTeam team[bf16Both, *bf16Both]

// bf16Both is PackRowsPairs's pass, a unit a pair of rows of x.
type bf16Both struct {
	conv   bf16Conv
	m, k   int
	stride int // words a pair row
	x      []float32
	rows   []uint16
	pairs  []uint32
}

func (t *bf16Both) part(_, lo, hi int) {
	k := t.k
	for q := lo; q < hi; q++ {
		d := t.pairs[q*t.stride : (q+1)*t.stride]
		r := 2 * q
		x := t.x[r*k : (r+1)*k]
		if r+1 < t.m {
			t.conv.rowsPairs(t.rows[r*k:(r+1)*k], t.rows[(r+1)*k:(r+2)*k], d[:k], x, t.x[(r+1)*k:(r+2)*k])
		} else {
			h := t.rows[r*k : (r+1)*k]
			t.conv.round(h, x)
			for i, v := range h {
				d[i] = uint32(v)
			}
		}
		clear(d[k:])
	}
}
