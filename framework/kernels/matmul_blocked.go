package kernels

import "unsafe"

// The blocked matrix multiply (Goto and van de Geijn, "Anatomy of
// high-performance matrix multiplication", 2008; the BLIS loop nest):
//
//	for jc in n by gemmNC:           B block, kc×nc, packed into NR-wide slivers (L2)
//	  for pc in k by gemmKC:         one pass over k: C += A[:, pc:pc+kc]·B[pc:pc+kc, :]
//	    pack B[pc:pc+kc, jc:jc+nc]   (unless the kernel reads a row-major B in place)
//	    for ir in rows by MR:        A sliver, MR×kc (L1): packed, or read in place
//	      for jr in nc by NR:        micro-kernel: MR×NR tile of C
//
// Each element of C is summed over k in one fixed order (pc blocks in
// order, p in order within a block, one FMA each), and the first block
// applies beta; the thread split only decides which worker computes which
// tile, so the result is bit-identical for every thread count.
const (
	gemmKC = 256 // k per pass: an A sliver (14×256 floats = 14 KiB) stays in L1
	gemmNC = 512 // columns per packed B block: 256×512 floats = 512 KiB, in L2
	// gemmInPlaceK is the largest k for which a non-transposed A is read
	// in place by the micro-kernel rather than packed: MR rows of k floats
	// each, at a stride that does not yet alias in L1.
	gemmInPlaceK = 512
)

// gemmKernel describes one micro-kernel: an mr×nr tile from kc steps, see
// _asm/gemm_asm.go.
type gemmKernel struct {
	name   string
	mr, nr int
	// inPlaceB: the kernel reads B(p, j) at b + p·bcs + 4j under the column
	// mask, so a row-major B needs no packing; else bcs is always 4·nr.
	inPlaceB bool
	// tile computes C[0:rows, cols] (= or +=beta·) Σ_p A(r,p)·B(p,j), where
	// A(r, p) is at a + r·ars + p·acs bytes, B(p, j) at b + p·bcs + 4j, c has
	// row stride ldc, and columns ≥ cols are left alone. add selects
	// c = acc + beta·c over c = acc.
	tile func(kc int, a unsafe.Pointer, ars, acs uintptr, b *float32, bcs uintptr, c *float32, ldc, rows, cols int, beta float32, add bool)
}

// gemmBuf holds one worker's packing buffers (and t, the transposed C of
// matMulGo's few-rows path).
type gemmBuf struct{ a, b, t []float32 }

var gemmBufs freeList[gemmBuf]

// getGemmBuf returns a worker's packing buffers; give them back with
// gemmBufs.put.
func getGemmBuf() *gemmBuf {
	if b := gemmBufs.get(); b != nil {
		return b
	}
	return new(gemmBuf)
}

func (g *gemmBuf) grow(na, nb int) {
	if cap(g.a) < na {
		g.a = make([]float32, na)
	}
	if cap(g.b) < nb {
		g.b = make([]float32, nb)
	}
	g.a, g.b = g.a[:na], g.b[:nb]
}

// gemmMinFlops is the least work (2·m·n·k per worker) worth a goroutine.
const gemmMinFlops = 1 << 21

// gemvMinBytes is the least of b (4·n·k bytes per worker) worth a
// goroutine for the gemv path.
const gemvMinBytes = 256 << 10

// matMulBlocked is MatMul on the micro-kernel kern. Inputs are valid and
// m, n, k > 0.
func matMulBlocked(kern *gemmKernel, transA, transB bool, m, n, k int, a, b []float32, beta float32, c []float32) {
	mr, nr := kern.mr, kern.nr
	mt, nt := (m+mr-1)/mr, (n+nr-1)/nr
	// Split the larger of the two tile counts; the partition depends only
	// on the shape and Threads().
	t := gemmTask{kern: kern, transA: transA, transB: transB, m: m, n: n, k: k, a: a, b: b, beta: beta, c: c,
		byRows: m >= n || nt < 2, units: mt}
	if !t.byRows {
		t.units = nt
	}
	p := min(Threads(), max(1, 2*m*n*k/gemmMinFlops), t.units)
	t.parts = p
	gemmDispatch(t)
}

// matMulGemvNT is MatMul for NT products with few rows (m < gemmSmallM: the
// one-token Step path, x·Wᵀ): dot products of each row of a with eight rows
// of b at a time, streaming b once, split over the workers by groups of
// eight columns.
func matMulGemvNT(m, n, k int, a, b []float32, beta float32, c []float32) {
	t := gemmTask{gemv: true, m: m, n: n, k: k, a: a, b: b, beta: beta, c: c, units: (n + 7) / 8}
	// Split by the bytes of b, not the flops: in generation every weight
	// comes from DRAM, and two cores stream it nearly twice as fast.
	t.parts = min(Threads(), max(1, 4*n*k/gemvMinBytes), t.units)
	gemmDispatch(t)
}

// gemmDispatch runs the t.parts parts of t: part 0 here, the others on the
// worker team (parallel.go), so a MatMul allocates nothing.
func gemmDispatch(t gemmTask) {
	if t.parts == 1 {
		t.run()
		return
	}
	gemmTeam.run(t.parts, t.parts, t)
}

var gemmTeam team[gemmTask, *gemmTask]

// part runs part w of the product (the team's ranges are unused: the
// task splits its own units).
func (t *gemmTask) part(w, _, _ int) {
	t.w = w
	t.run()
}

// gemmTask is part w of parts of a product: rows (or columns) of tiles
// span(units, parts, w).
type gemmTask struct {
	kern            *gemmKernel
	transA, transB  bool
	m, n, k         int
	a, b            []float32
	beta            float32
	c               []float32
	byRows          bool
	gemv            bool      // matMulGemvNT: units are groups of 8 columns
	gonum           bool      // matMulGonumBlocks: units are blocks of gonumBlockM rows
	group           gemmGroup // MatMuls' fused routes (group.n > 0): units are blocks of gemmGroupRows rows, or of gemmGroupCols columns (group.cols)
	units, parts, w int
}

func (t *gemmTask) run() {
	if t.group.n > 0 {
		t.runGroup()
		return
	}
	lo, hi := span(t.units, t.parts, t.w)
	if t.gemv {
		gemvNT(t.m, t.n, t.k, t.a, t.b, t.beta, t.c, lo*8, min(hi*8, t.n))
		return
	}
	if t.gonum {
		gonumBlocks(t.transA, t.transB, t.m, t.n, t.k, t.a, t.b, t.beta, t.c, lo*gonumBlockM, min(hi*gonumBlockM, t.m))
		return
	}
	if t.byRows {
		mr := t.kern.mr
		gemmWorker(t.kern, t.transA, t.transB, t.m, t.n, t.k, t.a, t.b, t.beta, t.c, lo*mr, min(hi*mr, t.m), 0, t.n)
		return
	}
	nr := t.kern.nr
	gemmWorker(t.kern, t.transA, t.transB, t.m, t.n, t.k, t.a, t.b, t.beta, t.c, 0, t.m, lo*nr, min(hi*nr, t.n))
}

// gemmWorker computes C[i0:i1, j0:j1].
func gemmWorker(kern *gemmKernel, transA, transB bool, m, n, k int, a, b []float32, beta float32, c []float32, i0, i1, j0, j1 int) {
	mr, nr := kern.mr, kern.nr
	buf := getGemmBuf()
	defer gemmBufs.put(buf)
	kcMax := min(k, gemmKC)
	ncMax := min(j1-j0, gemmNC)
	// B is read in place when the kernel can and B is row-major: each
	// kernel call streams kc rows of nr floats from L2 either way.
	inPlaceB := kern.inPlaceB && !transB
	nb := ((ncMax + nr - 1) / nr) * nr * kcMax
	if inPlaceB {
		nb = 0
	}
	buf.grow(mr*kcMax, nb)
	// A is read in place (no packing) when it is transposed (each step's
	// MR values are contiguous; measured faster than packing them for
	// m = 128 … 4096), when its rows are short enough not to alias in L1,
	// or when one B sliver covers all the worker's columns (each A sliver
	// is then read once). A row-major A with long rows is packed: read in
	// place, its MR rows a multiple of 4 KiB apart alias in L1.
	inPlace := transA || k <= gemmInPlaceK || j1-j0 <= nr
	for jc := j0; jc < j1; jc += gemmNC {
		nc := min(gemmNC, j1-jc)
		for pc := 0; pc < k; pc += gemmKC {
			kc := min(gemmKC, k-pc)
			var bp []float32
			if !inPlaceB {
				bp = buf.b[:((nc+nr-1)/nr)*nr*kc]
				gemmPackB(bp, transB, b, n, k, pc, kc, jc, nc, nr)
			}
			bet, add := beta, beta != 0
			if pc > 0 {
				bet, add = 1, true
			}
			for ir := i0; ir < i1; ir += mr {
				rows := min(mr, i1-ir)
				var ap unsafe.Pointer
				var ars, acs uintptr
				switch {
				case inPlace && rows == mr && !transA:
					ap = unsafe.Pointer(&a[ir*k+pc]) // op(A)[i, p] = a[i*k+p]
					ars, acs = uintptr(4*k), 4
				case inPlace && rows == mr:
					ap = unsafe.Pointer(&a[pc*m+ir]) // op(A)[i, p] = a[p*m+i]
					ars, acs = 4, uintptr(4*m)
				default:
					gemmPackA(buf.a[:mr*kc], transA, a, m, k, ir, rows, pc, kc, mr)
					ap = unsafe.Pointer(&buf.a[0])
					ars, acs = 4, uintptr(4*mr)
				}
				for jr := 0; jr < nc; jr += nr {
					cols := min(nr, nc-jr)
					if inPlaceB {
						kern.tile(kc, ap, ars, acs, &b[pc*n+jc+jr], uintptr(4*n), &c[ir*n+jc+jr], n, rows, cols, bet, add)
					} else {
						kern.tile(kc, ap, ars, acs, &bp[jr*kc], uintptr(4*nr), &c[ir*n+jc+jr], n, rows, cols, bet, add)
					}
				}
			}
		}
	}
}

// gemmPackA packs op(A)[ir:ir+rows, pc:pc+kc] into dst as kc groups of mr
// values (row r of step p at dst[p*mr+r]), rows ≥ rows zero.
func gemmPackA(dst []float32, transA bool, a []float32, m, k, ir, rows, pc, kc, mr int) {
	if rows < mr {
		clear(dst)
	}
	if transA {
		// op(A)[i, p] = a[p*m+i]: each step is a contiguous run.
		if rows == mr {
			switch mr { // fixed-size copies compile to inline moves
			case 14:
				for p := 0; p < kc; p++ {
					o := (pc+p)*m + ir
					*(*[14]float32)(dst[p*14:]) = *(*[14]float32)(a[o:])
				}
				return
			case 24:
				for p := 0; p < kc; p++ {
					o := (pc+p)*m + ir
					*(*[24]float32)(dst[p*24:]) = *(*[24]float32)(a[o:])
				}
				return
			}
		}
		for p := 0; p < kc; p++ {
			copy(dst[p*mr:p*mr+rows], a[(pc+p)*m+ir:])
		}
		return
	}
	if rows == 14 && mr == 14 {
		gemmPackA14(dst, a[ir*k+pc:], k, kc)
		return
	}
	for r := 0; r < rows; r++ {
		row := a[(ir+r)*k+pc : (ir+r)*k+pc+kc]
		d := dst[r:]
		for p, v := range row {
			d[p*mr] = v
		}
	}
}

// gemmPackA14 packs 14 rows of a (row stride lda) by kc columns: the 14
// values of each column are written together (one 56-byte run per step).
func gemmPackA14(dst, a []float32, lda, kc int) {
	r0, r1, r2, r3 := a[:kc], a[lda:lda+kc], a[2*lda:2*lda+kc], a[3*lda:3*lda+kc]
	r4, r5, r6, r7 := a[4*lda:4*lda+kc], a[5*lda:5*lda+kc], a[6*lda:6*lda+kc], a[7*lda:7*lda+kc]
	r8, r9, r10, r11 := a[8*lda:8*lda+kc], a[9*lda:9*lda+kc], a[10*lda:10*lda+kc], a[11*lda:11*lda+kc]
	r12, r13 := a[12*lda:12*lda+kc], a[13*lda:13*lda+kc]
	dst = dst[:14*kc]
	for p := range r0 {
		d := (*[14]float32)(dst[14*p:])
		d[0], d[1], d[2], d[3] = r0[p], r1[p], r2[p], r3[p]
		d[4], d[5], d[6], d[7] = r4[p], r5[p], r6[p], r7[p]
		d[8], d[9], d[10], d[11] = r8[p], r9[p], r10[p], r11[p]
		d[12], d[13] = r12[p], r13[p]
	}
}

// gemmPackB packs op(B)[pc:pc+kc, jc:jc+nc] into dst as slivers of nr
// columns: sliver s, step p, column j at dst[s*kc*nr + p*nr + j], columns
// past nc zero.
func gemmPackB(dst []float32, transB bool, b []float32, n, k, pc, kc, jc, nc, nr int) {
	for s := 0; s*nr < nc; s++ {
		j := jc + s*nr
		w := min(nr, nc-s*nr)
		d := dst[s*kc*nr : (s+1)*kc*nr]
		if w < nr {
			clear(d)
		}
		if !transB {
			if w == nr && nr == 32 {
				for p := 0; p < kc; p++ {
					*(*[32]float32)(d[p*32:]) = *(*[32]float32)(b[(pc+p)*n+j:])
				}
				continue
			}
			for p := 0; p < kc; p++ {
				copy(d[p*nr:p*nr+w], b[(pc+p)*n+j:])
			}
			continue
		}
		// op(B)[p, j] = b[j*k+p]
		for jj := 0; jj < w; jj++ {
			row := b[(j+jj)*k+pc : (j+jj)*k+pc+kc]
			dd := d[jj:]
			for p, v := range row {
				dd[p*nr] = v
			}
		}
	}
}

// gemvNT computes c[i, j0:j1] for every row i of an NT product: with
// gemvDot8 (eight columns at a time, all rows of a against those eight
// rows of b while they are in L1), the last j1−j0 mod 8 columns in Go.
func gemvNT(m, n, k int, a, b []float32, beta float32, c []float32, j0, j1 int) {
	var out [8]float32
	j := j0
	for ; j+8 <= j1; j += 8 {
		for i := 0; i < m; i++ {
			gemvDot8(a[i*k:i*k+k], b[j*k:], k, &out)
			row := c[i*n+j : i*n+j+8]
			for r, v := range out {
				if beta != 0 {
					v += beta * row[r]
				}
				row[r] = v
			}
		}
	}
	for ; j < j1; j++ {
		w := b[j*k : j*k+k]
		for i := 0; i < m; i++ {
			var s float32
			for p, x := range a[i*k : i*k+k] {
				s += x * w[p]
			}
			if beta != 0 {
				s += beta * c[i*n+j]
			}
			c[i*n+j] = s
		}
	}
}
