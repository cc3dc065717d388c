package kernels

import "unsafe"

// The blocked bf16 product: the loop nest of matmul_blocked.go, with both
// operands always packed, and packed as bfloat16 pairs along k, the shape
// VDPBF16PS reads. A pair word holds two bf16 values of consecutive k
// (step 2q in the low half, 2q+1 in the high half), so one 32-lane load of
// B is 16 columns' pairs, and one broadcast word of A is a row's pair:
//
//	A sliver  (kc/2, mr) words: ap[q·mr+r] = (A(r, 2q), A(r, 2q+1))
//	B sliver  (kc/2, nr) words: bp[q·nr+j] = (B(2q, j), B(2q+1, j))
//	tile      C(r, j) += Σ_q A(r,2q+1)·B(2q+1,j) + A(r,2q)·B(2q,j)   (float32 sums)
//
// An odd k pads the last pair with a zero; rows and columns past the edge
// are zero in the slivers, and the edge tiles go through a buffer. Each
// element of C is summed over k in one fixed order (passes of bf16KC in
// order), so the result is the same for every thread count.
const (
	bf16MR, bf16NR = 14, 32 // tile: 28 zmm accumulators
	bf16KC         = 512    // k per pass: an A sliver is 14×256 words = 14 KiB (L1)
	bf16NC         = 512    // columns per packed B block: 256×512 words = 512 KiB (L2)
)

// bf16TileFunc computes one full bf16MR×bf16NR tile from kc2 pair steps of
// packed slivers a and b: c = acc (flags 0) or c = acc + beta·c (flags 1),
// c with row stride ldc floats.
type bf16TileFunc func(kc2 int, a, b *uint32, c *float32, ldc int, beta float32, flags int)

// bf16Buf holds one worker's packed slivers and its edge tile.
type bf16Buf struct {
	a, b []uint32
	t    [bf16MR * bf16NR]float32
}

var bf16Bufs freeList[bf16Buf]

// bf16Pair packs x (low half) and y (high half) as bfloat16.
func bf16Pair(x, y float32) uint32 { return uint32(RoundBF16(x)) | uint32(RoundBF16(y))<<16 }

// matMulBF16Blocked is MatMulBF16 on the tile kernel tile. Inputs are
// valid and m, n, k > 0.
func matMulBF16Blocked(tile bf16TileFunc, transA, transB bool, m, n, k int, a, b []float32, beta float32, c []float32) {
	mt, nt := (m+bf16MR-1)/bf16MR, (n+bf16NR-1)/bf16NR
	t := bf16Task{tile: tile, transA: transA, transB: transB, m: m, n: n, k: k, a: a, b: b, beta: beta, c: c,
		byRows: m >= n || nt < 2, units: mt}
	if !t.byRows {
		t.units = nt
	}
	p := min(Threads(), max(1, 2*m*n*k/gemmMinFlops), t.units)
	if p == 1 {
		t.part(0, 0, t.units)
		return
	}
	bf16Team.run(t.units, p, t)
}

var bf16Team team[bf16Task, *bf16Task]

// bf16Task is a product split into units of tile rows (byRows) or tile
// columns.
type bf16Task struct {
	tile           bf16TileFunc
	transA, transB bool
	m, n, k        int
	a, b           []float32
	beta           float32
	c              []float32
	byRows         bool
	units          int
}

func (t *bf16Task) part(_, lo, hi int) {
	if t.byRows {
		t.worker(lo*bf16MR, min(hi*bf16MR, t.m), 0, t.n)
		return
	}
	t.worker(0, t.m, lo*bf16NR, min(hi*bf16NR, t.n))
}

// worker computes C[i0:i1, j0:j1].
func (t *bf16Task) worker(i0, i1, j0, j1 int) {
	buf := bf16Bufs.get()
	if buf == nil {
		buf = new(bf16Buf)
	}
	defer bf16Bufs.put(buf)
	k2 := (min(t.k, bf16KC) + 1) / 2
	if na := bf16MR * k2; cap(buf.a) < na {
		buf.a = make([]uint32, na)
	}
	if nb := (min(j1-j0, bf16NC) + bf16NR - 1) / bf16NR * bf16NR * k2; cap(buf.b) < nb {
		buf.b = make([]uint32, nb)
	}
	n := t.n
	for jc := j0; jc < j1; jc += bf16NC {
		nc := min(bf16NC, j1-jc)
		for pc := 0; pc < t.k; pc += bf16KC {
			kc := min(bf16KC, t.k-pc)
			kc2 := (kc + 1) / 2
			bp := buf.b[:(nc+bf16NR-1)/bf16NR*bf16NR*kc2]
			bf16PackB(bp, t.transB, t.b, n, t.k, pc, kc, jc, nc)
			bet, flags := t.beta, 0
			if t.beta != 0 || pc > 0 {
				flags = 1
			}
			if pc > 0 {
				bet = 1
			}
			ap := buf.a[:bf16MR*kc2]
			for ir := i0; ir < i1; ir += bf16MR {
				rows := min(bf16MR, i1-ir)
				bf16PackA(ap, t.transA, t.a, t.m, t.k, ir, rows, pc, kc)
				for jr := 0; jr < nc; jr += bf16NR {
					cols := min(bf16NR, nc-jr)
					cp := c32(t.c, ir*n+jc+jr)
					if rows == bf16MR && cols == bf16NR {
						t.tile(kc2, &ap[0], &bp[jr*kc2], cp, n, bet, flags)
						continue
					}
					t.tile(kc2, &ap[0], &bp[jr*kc2], &buf.t[0], bf16NR, 0, 0)
					for r := 0; r < rows; r++ {
						row := t.c[(ir+r)*n+jc+jr : (ir+r)*n+jc+jr+cols]
						acc := buf.t[r*bf16NR : r*bf16NR+cols]
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
	}
}

func c32(c []float32, i int) *float32 { return &c[i] }

// bf16PackA packs op(A)[ir:ir+rows, pc:pc+kc] into dst (kc2 groups of
// bf16MR pair words), zero past rows and past k.
func bf16PackA(dst []uint32, transA bool, a []float32, m, k, ir, rows, pc, kc int) {
	if rows < bf16MR {
		clear(dst)
	}
	even := kc &^ 1
	if !transA { // op(A)[i, p] = a[i*k+p]: each row's pairs are contiguous
		for r := 0; r < rows; r++ {
			row := a[(ir+r)*k+pc : (ir+r)*k+pc+kc]
			for p := 0; p < even; p += 2 {
				dst[p/2*bf16MR+r] = bf16Pair(row[p], row[p+1])
			}
			if kc > even {
				dst[even/2*bf16MR+r] = uint32(RoundBF16(row[even]))
			}
		}
		return
	}
	// op(A)[i, p] = a[p*m+i]: each step is a contiguous run of rows.
	for p := 0; p < even; p += 2 {
		x := a[(pc+p)*m+ir : (pc+p)*m+ir+rows]
		y := a[(pc+p+1)*m+ir : (pc+p+1)*m+ir+rows]
		d := dst[p/2*bf16MR : p/2*bf16MR+rows]
		for r := range d {
			d[r] = bf16Pair(x[r], y[r])
		}
	}
	if kc > even {
		x := a[(pc+even)*m+ir : (pc+even)*m+ir+rows]
		d := dst[even/2*bf16MR : even/2*bf16MR+rows]
		for r := range d {
			d[r] = uint32(RoundBF16(x[r]))
		}
	}
}

// bf16PackB packs op(B)[pc:pc+kc, jc:jc+nc] into dst as slivers of bf16NR
// columns, each kc2 groups of bf16NR pair words, zero past the columns and
// past k.
func bf16PackB(dst []uint32, transB bool, b []float32, n, k, pc, kc, jc, nc int) {
	kc2 := (kc + 1) / 2
	even := kc &^ 1
	if nc%bf16NR != 0 {
		clear(dst)
	}
	for jr := 0; jr < nc; jr += bf16NR {
		cols := min(bf16NR, nc-jr)
		s := dst[jr*kc2 : (jr+bf16NR)*kc2]
		if transB { // op(B)[p, j] = b[j*k+p]: each column's pairs are contiguous
			for j := 0; j < cols; j++ {
				col := b[(jc+jr+j)*k+pc : (jc+jr+j)*k+pc+kc]
				for p := 0; p < even; p += 2 {
					s[p/2*bf16NR+j] = bf16Pair(col[p], col[p+1])
				}
				if kc > even {
					s[even/2*bf16NR+j] = uint32(RoundBF16(col[even]))
				}
			}
			continue
		}
		// op(B)[p, j] = b[p*n+j]: two rows make a group.
		for p := 0; p < even; p += 2 {
			x := b[(pc+p)*n+jc+jr : (pc+p)*n+jc+jr+cols]
			y := b[(pc+p+1)*n+jc+jr : (pc+p+1)*n+jc+jr+cols]
			d := s[p/2*bf16NR : p/2*bf16NR+cols]
			for j := range d {
				d[j] = bf16Pair(x[j], y[j])
			}
		}
		if kc > even {
			x := b[(pc+even)*n+jc+jr : (pc+even)*n+jc+jr+cols]
			d := s[even/2*bf16NR : even/2*bf16NR+cols]
			for j := range d {
				d[j] = uint32(RoundBF16(x[j]))
			}
		}
	}
}

// bf16TileGo is the Go equivalent of the assembly tile (gemmBF16AVX512):
// each lane adds the odd product, then the even one, as VDPBF16PS does.
// The tests run the blocked product on it where the CPU lacks
// AVX512_BF16, and check the assembly against it.
func bf16TileGo(kc2 int, a, b *uint32, c *float32, ldc int, beta float32, flags int) {
	as := unsafe.Slice(a, kc2*bf16MR)
	bs := unsafe.Slice(b, kc2*bf16NR)
	cs := unsafe.Slice(c, (bf16MR-1)*ldc+bf16NR)
	var acc [bf16MR * bf16NR]float32
	for q := 0; q < kc2; q++ {
		bq := bs[q*bf16NR : q*bf16NR+bf16NR]
		for r := 0; r < bf16MR; r++ {
			w := as[q*bf16MR+r]
			hi, lo := FromBF16(uint16(w>>16)), FromBF16(uint16(w))
			ar := acc[r*bf16NR : r*bf16NR+bf16NR]
			for j, v := range bq {
				ar[j] += hi * FromBF16(uint16(v>>16))
				ar[j] += lo * FromBF16(uint16(v))
			}
		}
	}
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
