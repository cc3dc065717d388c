package kernels

import "unsafe"

// The blocked bf16 product. Both operands are first converted, whole and
// once per product, into bfloat16 pair words: a pair word holds two bf16
// values of consecutive k (step 2q in the low half, 2q+1 in the high
// half), the shape VDPBF16PS reads. The tile kernel then reads them in
// place, A's pair for row r and step q at a + r·ars + q·acs bytes and B's
// 32 columns of step q at b + q·bcs:
//
//	op(A) = a (m, k)    rows of bf16:        A(i, q) at word i·k2 + q       (ars = 4·k2, acs = 4)
//	op(A) = aᵀ, a (k, m) pairs of rows of a:  A(i, q) at word q·m14 + i      (ars = 4, acs = 4·m14)
//	op(B) = b (k, n)    pairs of rows of b:  B(q, j) at word q·n32 + j
//	op(B) = bᵀ, b (n, k) the same layout, from rows of b (transposed in Go)
//
// with k2 = ⌈k/2⌉ (an odd k pads the last pair with a zero), m14 and n32
// m and n rounded up to the tile (14 rows, 32 columns); the padding is
// zero, so every tile reads and computes full, and the edge tiles go
// through a buffer. Each element of C is summed over k in one fixed order
// (passes of bf16KC in order), so the result is the same for every thread
// count. Converting once per product, rather than per packed sliver as
// the float32 kernels pack, reads each input once.
const (
	bf16MR, bf16NR = 14, 32 // tile: 28 zmm accumulators
	bf16KC         = 512    // k per pass (even): an A sliver is 14×256 words = 14 KiB (L1)
)

// bf16TileFunc computes one full bf16MR×bf16NR tile from kc2 pair steps:
// c = acc (flags 0) or c = acc + beta·c (flags 1), c with row stride ldc
// floats.
type bf16TileFunc func(kc2 int, a *uint32, ars, acs uintptr, b *uint32, bcs uintptr, c *float32, ldc int, beta float32, flags int)

// bf16Conv is a set of float32 → bf16 conversions (the assembly ones, or
// the Go ones where there are none).
type bf16Conv struct {
	// round sets dst[i] = RoundBF16(x[i]).
	round func(dst []uint16, x []float32)
	// pairs sets dst[i] = RoundBF16(x[i]) | RoundBF16(y[i])<<16.
	pairs func(dst []uint32, x, y []float32)
	// roundF32 sets dst[i] = x[i] rounded to bfloat16, as a float32.
	roundF32 func(dst, x []float32)
	// rowsPairs sets hx[i] = RoundBF16(x[i]), hy[i] = RoundBF16(y[i])
	// and dst[i] = hx[i] | hy[i]<<16: round and pairs at once.
	rowsPairs func(hx, hy []uint16, dst []uint32, x, y []float32)
}

var bf16ConvGo = bf16Conv{round: bf16RoundRowGo, pairs: bf16PairRowGo, roundF32: roundSliceBF16, rowsPairs: bf16RowsPairsGo}

// bf16Buf holds a product's converted operands and the edge tiles.
type bf16Buf struct {
	a, b []uint32
	t    []float32 // an edge tile (bf16MR×bf16NR) per worker
}

var bf16Bufs freeList[bf16Buf]

// roundUp returns n rounded up to a multiple of to (the tile's rows or
// columns).
func roundUp(n, to int) int { return (n + to - 1) / to * to }

func growU32(s []uint32, n int) []uint32 {
	if cap(s) < n {
		return make([]uint32, n)
	}
	return s[:n]
}

// bf16Pair packs x (low half) and y (high half) as bfloat16.
func bf16Pair(x, y float32) uint32 { return uint32(RoundBF16(x)) | uint32(RoundBF16(y))<<16 }

// bf16RoundRowGo sets dst[i] = RoundBF16(x[i]).
func bf16RoundRowGo(dst []uint16, x []float32) {
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] = RoundBF16(v)
	}
}

// bf16PairRowGo sets dst[i] = RoundBF16(x[i]) | RoundBF16(y[i])<<16.
func bf16PairRowGo(dst []uint32, x, y []float32) {
	dst = dst[:len(x)]
	y = y[:len(x)]
	for i, v := range x {
		dst[i] = bf16Pair(v, y[i])
	}
}

// bf16RowsPairsGo sets hx[i] = RoundBF16(x[i]), hy[i] = RoundBF16(y[i])
// and dst[i] = hx[i] | hy[i]<<16.
func bf16RowsPairsGo(hx, hy []uint16, dst []uint32, x, y []float32) {
	hx, hy, dst, y = hx[:len(x)], hy[:len(x)], dst[:len(x)], y[:len(x)]
	for i, v := range x {
		a, b := RoundBF16(v), RoundBF16(y[i])
		hx[i], hy[i], dst[i] = a, b, uint32(a)|uint32(b)<<16
	}
}

// matMulBF16Blocked is MatMulBF16 on the tile kernel tile with the
// conversions conv. Inputs are valid and m, n, k > 0.
func matMulBF16Blocked(tile bf16TileFunc, conv bf16Conv, transA, transB bool, m, n, k int, a, b []float32, beta float32, c []float32) {
	k2 := (k + 1) / 2
	m14 := roundUp(m, bf16MR)
	n32 := roundUp(n, bf16NR)
	buf := bf16Bufs.get()
	if buf == nil {
		buf = new(bf16Buf)
	}
	defer bf16Bufs.put(buf)
	buf.a = growU32(buf.a, m14*k2)
	buf.b = growU32(buf.b, k2*n32)
	t := bf16Task{tile: tile, conv: conv, transA: transA, transB: transB, m: m, n: n, k: k, a: a, b: b, beta: beta, c: c,
		pa: buf.a, pb: buf.b, k2: k2, m14: m14, n32: n32}
	t.convertBoth()
	t.multiply(buf)
}

// convertBoth converts A's rows (m14, or k2 pair rows), then B's (k2 pair
// rows, or n32 rows of bᵀ), split over the workers by rows; a task with
// a nil (b nil) converts only A's (B's).
func (t *bf16Task) convertBoth() {
	t.convert = true
	t.aRows, t.bRows = t.m14, t.k2
	if t.transA {
		t.aRows = t.k2
	}
	if t.transB {
		t.bRows = t.n32
	}
	var elems int
	switch {
	case t.a == nil:
		t.aRows, elems = 0, t.k*t.n
	case t.b == nil:
		t.bRows, elems = 0, t.m*t.k
	default:
		elems = t.m*t.k + t.k*t.n
	}
	t.units = t.aRows + t.bRows
	t.run(min(Threads(), max(1, elems/(64<<10)), t.units))
}

// multiply computes the tiles from the converted operands t.pa, t.pb,
// with the edge tiles in buf: tile rows, or tile columns when there are
// more of those.
func (t *bf16Task) multiply(buf *bf16Buf) {
	m, n, k := t.m, t.n, t.k
	mt, nt := t.m14/bf16MR, t.n32/bf16NR
	t.convert, t.byRows, t.units = false, m >= n || nt < 2, mt
	if !t.byRows {
		t.units = nt
	}
	p := min(Threads(), max(1, 2*m*n*k/gemmMinFlops), t.units)
	if cap(buf.t) < p*bf16MR*bf16NR {
		buf.t = make([]float32, p*bf16MR*bf16NR)
	}
	t.edge = buf.t[:p*bf16MR*bf16NR]
	t.run(p)
}

var bf16Team team[bf16Task, *bf16Task]

// bf16Task is one phase of a product: the conversion (convert) or the
// tiles, split into units.
type bf16Task struct {
	tile           bf16TileFunc
	conv           bf16Conv
	transA, transB bool
	m, n, k        int
	a, b           []float32
	beta           float32
	c              []float32
	pa, pb         []uint32  // the converted operands
	edge           []float32 // an edge tile per worker
	k2, m14, n32   int

	convert      bool
	aRows, bRows int // convert: units [0, aRows) are A's rows, the rest B's
	byRows       bool
	units        int
}

func (t *bf16Task) run(p int) {
	if p <= 1 {
		t.part(0, 0, t.units)
		return
	}
	bf16Team.run(t.units, p, *t)
}

func (t *bf16Task) part(w, lo, hi int) {
	if t.convert {
		if !t.transA && t.k%2 == 0 && lo < t.aRows {
			// Rows of a with an even k: their bf16 form is contiguous,
			// one conversion for the part's rows.
			r := min(hi, t.aRows)
			t.convertARows(lo, r)
			lo = r
		}
		var h []uint16 // convertB's scratch for rows of bᵀ, one a part
		if t.transB && hi > t.aRows {
			s := bf16TransScratch.get()
			if s == nil {
				s = new([2 * bf16TransRun]uint16)
			}
			defer bf16TransScratch.put(s)
			h = s[:2*min(bf16TransRun, t.k2)]
		}
		for u := lo; u < hi; u++ {
			if u < t.aRows {
				t.convertA(u)
			} else {
				t.convertB(u-t.aRows, h)
			}
		}
		return
	}
	if t.byRows {
		t.tiles(w, lo*bf16MR, hi*bf16MR, 0, t.n32)
		return
	}
	t.tiles(w, 0, t.m14, lo*bf16NR, hi*bf16NR)
}

// u16 views words as twice as many halves (little-endian: the low half
// first, as the pair words hold them).
func u16(w []uint32) []uint16 {
	return unsafe.Slice((*uint16)(unsafe.Pointer(unsafe.SliceData(w))), 2*len(w))
}

// convertARows converts rows [lo, hi) of A's converted form when A is a
// (m, k), k even: the rows below m as one run of halves, the padding rows
// cleared.
func (t *bf16Task) convertARows(lo, hi int) {
	m, k := t.m, t.k
	d := u16(t.pa[lo*t.k2 : hi*t.k2])
	if r := min(hi, m); r > lo {
		t.conv.round(d[:(r-lo)*k], t.a[lo*k:r*k])
		d = d[(r-lo)*k:]
	}
	clear(d)
}

// convertA converts row u of A's converted form.
func (t *bf16Task) convertA(u int) {
	m, k, k2, m14 := t.m, t.k, t.k2, t.m14
	if !t.transA { // row i of a, as k2 words of halves
		d := u16(t.pa[u*k2 : (u+1)*k2])
		if u >= m {
			clear(d)
			return
		}
		t.conv.round(d[:k], t.a[u*k:(u+1)*k])
		if k%2 == 1 {
			d[k] = 0
		}
		return
	}
	// pair row q: rows 2q and 2q+1 of a, m14 words
	d := t.pa[u*m14 : (u+1)*m14]
	x := t.a[2*u*m : 2*u*m+m]
	if 2*u+1 < k {
		t.conv.pairs(d[:m], x, t.a[(2*u+1)*m:(2*u+2)*m])
	} else {
		h := u16(d)
		for i, v := range x {
			h[2*i], h[2*i+1] = RoundBF16(v), 0
		}
	}
	clear(d[m:])
}

// convertB converts unit u of B: pair row q = u of b, or (bᵀ) column j = u
// of the pair rows, rounded in h (2·min(bf16TransRun, k2) halves).
func (t *bf16Task) convertB(u int, h []uint16) {
	n, k, k2, n32 := t.n, t.k, t.k2, t.n32
	if !t.transB {
		d := t.pb[u*n32 : (u+1)*n32]
		x := t.b[2*u*n : 2*u*n+n]
		if 2*u+1 < k {
			t.conv.pairs(d[:n], x, t.b[(2*u+1)*n:(2*u+2)*n])
		} else {
			h := u16(d)
			for j, v := range x {
				h[2*j], h[2*j+1] = RoundBF16(v), 0
			}
		}
		clear(d[n:])
		return
	}
	// Column j of every pair row: row j of b, two steps a word.
	j := u
	if j >= n {
		for q := 0; q < k2; q++ {
			t.pb[q*n32+j] = 0
		}
		return
	}
	// The row rounded a run at a time (its halves 2q, 2q+1 are word q),
	// then its words stored a pair row apart.
	row := t.b[j*k : (j+1)*k]
	for q0 := 0; q0 < k2; q0 += bf16TransRun {
		q1 := min(q0+bf16TransRun, k2)
		x := row[2*q0 : min(2*q1, k)]
		r := h[:2*(q1-q0)]
		t.conv.round(r[:len(x)], x)
		if len(x) < len(r) {
			r[len(x)] = 0 // odd k: the last pair's high half
		}
		for q := q0; q < q1; q++ {
			i := 2 * (q - q0)
			t.pb[q*n32+j] = uint32(r[i]) | uint32(r[i+1])<<16
		}
	}
}

// bf16TransRun is how many pair words of a row of bᵀ convertB rounds at a
// time, in a scratch from bf16TransScratch.
const bf16TransRun = 512

var bf16TransScratch freeList[[2 * bf16TransRun]uint16]

// tiles computes the tiles of C[i0:i1, j0:j1] (bounds on the padded grid)
// on worker w: every pass over k in order.
func (t *bf16Task) tiles(w, i0, i1, j0, j1 int) {
	for qc := 0; qc < t.k2; qc += bf16KC / 2 {
		t.pass(w, qc, i0, i1, j0, j1)
	}
}

// pass adds the pass over k of the pair steps from qc (bf16KC/2 of them,
// or the rest) into the tiles of C[i0:i1, j0:j1]: with beta on the first
// pass, 1 after. The passes of a tile must run in order.
func (t *bf16Task) pass(w, qc, i0, i1, j0, j1 int) {
	n, k2 := t.n, t.k2
	var ars, acs uintptr = uintptr(4 * k2), 4
	if t.transA {
		ars, acs = 4, uintptr(4*t.m14)
	}
	bcs := uintptr(4 * t.n32)
	edge := t.edge[w*bf16MR*bf16NR : (w+1)*bf16MR*bf16NR]
	kc2 := min(bf16KC/2, k2-qc)
	bet, flags := t.beta, 0
	if t.beta != 0 || qc > 0 {
		flags = 1
	}
	if qc > 0 {
		bet = 1
	}
	for ir := i0; ir < min(i1, t.m); ir += bf16MR {
		rows := min(bf16MR, t.m-ir)
		ap := &t.pa[uintptr(ir)*ars/4+uintptr(qc)*acs/4]
		for jr := j0; jr < min(j1, n); jr += bf16NR {
			cols := min(bf16NR, n-jr)
			bp := &t.pb[qc*t.n32+jr]
			if rows == bf16MR && cols == bf16NR {
				t.tile(kc2, ap, ars, acs, bp, bcs, &t.c[ir*n+jr], n, bet, flags)
				continue
			}
			t.tile(kc2, ap, ars, acs, bp, bcs, &edge[0], bf16NR, 0, 0)
			for r := 0; r < rows; r++ {
				row := t.c[(ir+r)*n+jr : (ir+r)*n+jr+cols]
				acc := edge[r*bf16NR : r*bf16NR+cols]
				if flags == 0 {
					copy(row, acc)
					continue
				}
				for j, v := range acc {
					row[j] = v + bet*row[j]
				}
			}
		}
	}
}

// bf16TileGo is the Go equivalent of the assembly tile (gemmBF16AVX512):
// each lane adds the odd product, then the even one, as VDPBF16PS does.
// The tests run the blocked product on it where the CPU lacks
// AVX512_BF16, and check the assembly against it.
func bf16TileGo(kc2 int, a *uint32, ars, acs uintptr, b *uint32, bcs uintptr, c *float32, ldc int, beta float32, flags int) {
	var acc [bf16MR * bf16NR]float32
	for q := 0; q < kc2; q++ {
		bq := unsafe.Slice((*uint32)(unsafe.Add(unsafe.Pointer(b), uintptr(q)*bcs)), bf16NR)
		for r := 0; r < bf16MR; r++ {
			w := *(*uint32)(unsafe.Add(unsafe.Pointer(a), uintptr(r)*ars+uintptr(q)*acs))
			hi, lo := FromBF16(uint16(w>>16)), FromBF16(uint16(w))
			ar := acc[r*bf16NR : r*bf16NR+bf16NR]
			for j, v := range bq {
				ar[j] += hi * FromBF16(uint16(v>>16))
				ar[j] += lo * FromBF16(uint16(v))
			}
		}
	}
	cs := unsafe.Slice(c, (bf16MR-1)*ldc+bf16NR)
	for r := 0; r < bf16MR; r++ {
		row := cs[r*ldc : r*ldc+bf16NR]
		for j := range row {
			if flags&1 != 0 {
				row[j] = acc[r*bf16NR+j] + beta*row[j]
			} else {
				row[j] = acc[r*bf16NR+j]
			}
		}
	}
}
