package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// -kernel gemmbf16: the bf16 matrix-multiply tile and the float32 → bf16
// conversions in ../matmul_bf16_amd64.s (and their declarations in
// ../matmul_bf16_stubs_amd64.go).
//
// See bf16TileGo, bf16RoundRowGo, bf16PairRowGo and roundSliceBF16 in
// ../matmul_bf16_blocked.go for the Go equivalents, and that file for the
// layouts. gemmBF16AVX512 computes one 14×32 tile of C from kc2 steps of
// bfloat16 pairs:
//
//	acc[r][j] += A(r,2q+1)·B(2q+1,j) + A(r,2q)·B(2q,j)    q < kc2, VDPBF16PS
//	C[r][j]    = acc[r][j]                                flags&1 == 0
//	C[r][j]    = acc[r][j] + beta·C[r][j]                 flags&1 == 1 (one FMA)
//
// The pair word (A(r,2q), A(r,2q+1)) is read at a + r·ars + q·acs bytes,
// the 32 words (B(2q,j), B(2q+1,j)) of step q at b + q·bcs. Each step
// loads B (two zmm), then for each of the 14 rows broadcasts the row's
// pair word and issues one VDPBF16PS per half: 28 accumulators (Z0–Z27),
// B in Z28–Z29, the broadcasts alternating between Z30 and Z31.
// VDPBF16PS is emitted as bytes (vdpbf16ps, peak_asm.go), so every vector
// register is a fixed one.
func genGemmBF16() {
	const mr = 14
	TEXT("gemmBF16AVX512", NOSPLIT, "func(kc2 int, a *uint32, ars, acs uintptr, b *uint32, bcs uintptr, c *float32, ldc int, beta float32, flags int)")
	Pragma("noescape")
	Doc("gemmBF16AVX512 computes one 14×32 tile of bf16 products with float32 sums (VDPBF16PS): see _asm/gemmbf16_asm.go and bf16TileGo.")
	n := Load(Param("kc2"), GP64())
	base, L, L3, acs := setupA(mr)
	pb := Load(Param("b"), GP64())
	bcs := Load(Param("bcs"), GP64())
	z := func(i int) reg.VecPhysical { return zmm[i] }
	for i := 0; i < 2*mr; i++ {
		VPXORD(z(i), z(i), z(i))
	}
	// Ask for C's lines before the loop, as the float32 kernels do
	// (gemm_asm.go): a C not in the caches arrives while the loop runs.
	{
		pc := Load(Param("c"), GP64())
		ldc := Load(Param("ldc"), GP64())
		SHLQ(U8(2), ldc)
		for r := 0; r < mr; r++ {
			PREFETCHT0(Mem{Base: pc})
			PREFETCHT0(Mem{Base: pc, Disp: 64})
			if r < mr-1 {
				ADDQ(ldc, pc)
			}
		}
	}
	Label("loop")
	VMOVUPS(Mem{Base: pb}, z(28))
	VMOVUPS(Mem{Base: pb, Disp: 64}, z(29))
	for r := 0; r < mr; r++ {
		bc := 30 + r%2
		VPBROADCASTD(rowAddr(base, L, L3, r), z(bc))
		vdpbf16ps(2*r, 28, bc)
		vdpbf16ps(2*r+1, 29, bc)
	}
	for _, p := range base {
		ADDQ(acs, p)
	}
	ADDQ(bcs, pb)
	DECQ(n)
	JNZ(LabelRef("loop"))

	pc := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	flags := Load(Param("flags"), GP64())
	SHLQ(U8(2), ldc)
	TESTQ(U32(1), flags)
	JNZ(LabelRef("beta"))
	for r := 0; r < mr; r++ {
		VMOVUPS(z(2*r), Mem{Base: pc})
		VMOVUPS(z(2*r+1), Mem{Base: pc, Disp: 64})
		if r < mr-1 {
			ADDQ(ldc, pc)
		}
	}
	VZEROUPPER()
	RET()

	Label("beta")
	VBROADCASTSS(paramAddr("beta"), z(28))
	for r := 0; r < mr; r++ {
		for h := 0; h < 2; h++ {
			at := Mem{Base: pc, Disp: 64 * h}
			VFMADD231PS(at, z(28), z(2*r+h))
			VMOVUPS(z(2*r+h), at)
		}
		if r < mr-1 {
			ADDQ(ldc, pc)
		}
	}
	VZEROUPPER()
	RET()

	bf16Round()
	bf16Pairs(false)
	bf16Pairs(true)
	bf16RoundF32()
	gemvBF16()
}

// gemvBF16 emits gemvDot8BF16AVX512: gemv's eight dot products (gemm_asm.go)
// with W in bfloat16. A bfloat16 is the top half of a float32, so one
// 64-byte load of 32 weights gives the odd ones as float32 under a mask of
// the high halves and the even ones shifted up 16; x comes with each
// group of 32 reordered to match, its 16 even elements then its 16 odd
// ones (bf16GemvOrder):
//
//	out[r] = Σ_g Σ_j x[g·32+2j]·W[r][g·32+2j] + x[g·32+2j+1]·W[r][g·32+2j+1]
//	         + Σ_j x[t+j]·W[r][t+j]
//	         r = 0…7, groups g of 32, lanes j < 16, then one group of 16
//	         in order from t = k&^31 when k%32 ≥ 16 (VPMOVZXWD widens it),
//	         then the lanes summed as gemv sums them
//
// The caller adds the last k%16 products (gemvDot8BF16).
//
// The eight rows are 8·ldw contiguous bytes when ldw = 2k, and the caller
// walks such blocks in order, so while it reads one block the kernel
// prefetches the next one linearly, 512 bytes a group: the hardware
// prefetchers see eight streams of only 2k bytes each (24 lines at
// k = 768) and stay behind, streaming 15 GB/s where the float32 kernel's
// twice-as-long rows get 23 (BenchmarkMatMulBF16W).
func gemvBF16() {
	TEXT("gemvDot8BF16AVX512", NOSPLIT, "func(x *float32, w *uint16, ldw uintptr, k int, out *float32)")
	Pragma("noescape")
	Doc("gemvDot8BF16AVX512 computes out[r] = Σ_p x[p]·FromBF16(w[r·ldw/2+p]) for r < 8, p < k&^15, x in bf16GemvOrder, and prefetches the 8 rows after them: see _asm/gemmbf16_asm.go.")
	acc := make([]reg.VecVirtual, 8)
	for r := range acc {
		acc[r] = ZMM()
		VXORPS(acc[r], acc[r], acc[r])
	}
	x := Load(Param("x"), GP64())
	base, L, L3 := []reg.Register{Load(Param("w"), GP64())}, Load(Param("ldw"), GP64()), GP64()
	LEAQ(Mem{Base: L, Index: L, Scale: 2}, L3)
	b1 := GP64()
	LEAQ(Mem{Base: base[0], Index: L, Scale: 4}, b1)
	ADDQ(L, b1)
	base = append(base, b1)
	pf := GP64()
	LEAQ(Mem{Base: base[0], Index: L, Scale: 8}, pf)
	k := Load(Param("k"), GP64())
	n := GP64()
	MOVQ(k, n)
	SHRQ(U8(5), n)
	hi := ZMM()
	t := GP32()
	MOVL(U32(0xffff0000), t)
	VPBROADCASTD(t, hi)
	xe, xo, w, we := ZMM(), ZMM(), ZMM(), ZMM()
	TESTQ(n, n)
	JZ(LabelRef("half"))
	Label("loop32")
	for r := 0; r < 8; r++ {
		PREFETCHT0(Mem{Base: pf, Disp: 64 * r})
	}
	VMOVUPS(Mem{Base: x}, xe)
	VMOVUPS(Mem{Base: x, Disp: 64}, xo)
	for r := 0; r < 8; r++ {
		VMOVDQU32(rowAddr(base, L, L3, r), w)
		VPSLLD(U8(16), w, we)
		VPANDD(hi, w, w)
		VFMADD231PS(we, xe, acc[r])
		VFMADD231PS(w, xo, acc[r])
	}
	ADDQ(Imm(128), x)
	for _, b := range base {
		ADDQ(Imm(64), b)
	}
	ADDQ(U32(512), pf)
	DECQ(n)
	JNZ(LabelRef("loop32"))

	Label("half")
	TESTQ(U32(16), k)
	JZ(LabelRef("reduce"))
	VMOVUPS(Mem{Base: x}, xe)
	for r := 0; r < 8; r++ {
		VPMOVZXWD(rowAddr(base, L, L3, r), w)
		VPSLLD(U8(16), w, w)
		VFMADD231PS(w, xe, acc[r])
	}

	Label("reduce")
	out := Load(Param("out"), GP64())
	for r := 0; r < 8; r++ {
		z := acc[r]
		h := YMM()
		VEXTRACTF64X4(Imm(1), z, h)
		VADDPS(h, z.AsY(), h)
		q := XMM()
		VEXTRACTF128(Imm(1), h, q)
		VADDPS(q, h.AsX(), q)
		t := XMM()
		VMOVHLPS(q, t, t)
		VADDPS(t, q, q)
		VMOVSHDUP(q, t)
		VADDSS(t, q, q)
		MOVSS(q, Mem{Base: out, Disp: 4 * r})
	}
	VZEROUPPER()
	RET()
}

// bf16Consts are the constants of roundBF16 in registers.
type bf16Consts struct{ one, bias, abs, inf, quiet reg.VecVirtual }

func loadBF16Consts() bf16Consts {
	var k bf16Consts
	t := GP32()
	for _, c := range []struct {
		dst *reg.VecVirtual
		v   uint32
	}{{&k.one, 1}, {&k.bias, 0x7fff}, {&k.abs, 0x7fffffff}, {&k.inf, 0x7f800000}, {&k.quiet, 0x00400000}} {
		*c.dst = ZMM()
		MOVL(U32(c.v), t)
		VPBROADCASTD(t, *c.dst)
	}
	return k
}

// roundBF16 sets r to the float32 bits of x rounded to bfloat16 in their
// top half (RoundBF16: + 0x7fff + the kept half's low bit; a NaN is
// quieted instead), 16 lanes.
func roundBF16(k bf16Consts, x, r reg.VecVirtual) {
	t, q := ZMM(), ZMM()
	VPSRLD(U8(16), x, t)
	VPANDD(k.one, t, t)
	VPADDD(k.bias, x, r)
	VPADDD(t, r, r)
	VPANDD(k.abs, x, t)
	VPCMPUD(U8(6), k.inf, t, reg.K1) // |x| > Inf: NaN
	VPORD(k.quiet, x, q)
	VPBLENDMD(q, r, reg.K1, r)
}

// bf16Round emits bf16RoundAVX512(dst *uint16, x *float32, n int):
// dst[i] = RoundBF16(x[i]) for n a multiple of 16.
func bf16Round() {
	TEXT("bf16RoundAVX512", NOSPLIT, "func(dst *uint16, x *float32, n int)")
	Pragma("noescape")
	Doc("bf16RoundAVX512 sets dst[i] = RoundBF16(x[i]) for i < n, n a multiple of 16: see bf16RoundRowGo.")
	dst := Load(Param("dst"), GP64())
	x := Load(Param("x"), GP64())
	n := Load(Param("n"), GP64())
	k := loadBF16Consts()
	v, r := ZMM(), ZMM()
	SHRQ(U8(4), n)
	JZ(LabelRef("rdone"))
	Label("rloop")
	VMOVUPS(Mem{Base: x}, v)
	roundBF16(k, v, r)
	VPSRLD(U8(16), r, r)
	VPMOVDW(r, Mem{Base: dst})
	ADDQ(U8(64), x)
	ADDQ(U8(32), dst)
	DECQ(n)
	JNZ(LabelRef("rloop"))
	Label("rdone")
	VZEROUPPER()
	RET()
}

// bf16RoundF32 emits bf16RoundF32AVX512(dst, x *float32, n int): dst[i]
// = x[i] rounded to bfloat16, as a float32, for n a multiple of 16.
func bf16RoundF32() {
	TEXT("bf16RoundF32AVX512", NOSPLIT, "func(dst, x *float32, n int)")
	Pragma("noescape")
	Doc("bf16RoundF32AVX512 sets dst[i] = FromBF16(RoundBF16(x[i])) for i < n, n a multiple of 16: see roundSliceBF16.")
	dst := Load(Param("dst"), GP64())
	x := Load(Param("x"), GP64())
	n := Load(Param("n"), GP64())
	k := loadBF16Consts()
	hi := ZMM()
	t := GP32()
	MOVL(U32(0xffff0000), t)
	VPBROADCASTD(t, hi)
	v, r := ZMM(), ZMM()
	SHRQ(U8(4), n)
	JZ(LabelRef("fdone"))
	Label("floop")
	VMOVUPS(Mem{Base: x}, v)
	roundBF16(k, v, r)
	VPANDD(hi, r, r)
	VMOVUPS(r, Mem{Base: dst})
	ADDQ(U8(64), x)
	ADDQ(U8(64), dst)
	DECQ(n)
	JNZ(LabelRef("floop"))
	Label("fdone")
	VZEROUPPER()
	RET()
}

// bf16Pairs emits bf16PairsAVX512(dst *uint32, x, y *float32, n int):
// dst[i] = RoundBF16(x[i]) | RoundBF16(y[i])<<16 for n a multiple of 16;
// with rows, bf16RowsPairsAVX512(hx, hy *uint16, dst *uint32, x, y
// *float32, n int), which also stores hx[i] = RoundBF16(x[i]) and hy[i] =
// RoundBF16(y[i]): two rows of a matrix rounded once into both of the
// forms the bf16 product reads.
func bf16Pairs(rows bool) {
	var hx, hy reg.Register
	if rows {
		TEXT("bf16RowsPairsAVX512", NOSPLIT, "func(hx, hy *uint16, dst *uint32, x, y *float32, n int)")
		Pragma("noescape")
		Doc("bf16RowsPairsAVX512 sets hx[i] = RoundBF16(x[i]), hy[i] = RoundBF16(y[i]) and dst[i] = hx[i] | hy[i]<<16 for i < n, n a multiple of 16: see bf16RowsPairsGo.")
		hx = Load(Param("hx"), GP64())
		hy = Load(Param("hy"), GP64())
	} else {
		TEXT("bf16PairsAVX512", NOSPLIT, "func(dst *uint32, x, y *float32, n int)")
		Pragma("noescape")
		Doc("bf16PairsAVX512 sets dst[i] = RoundBF16(x[i]) | RoundBF16(y[i])<<16 for i < n, n a multiple of 16: see bf16PairRowGo.")
	}
	dst := Load(Param("dst"), GP64())
	x := Load(Param("x"), GP64())
	y := Load(Param("y"), GP64())
	n := Load(Param("n"), GP64())
	k := loadBF16Consts()
	hi := ZMM()
	t := GP32()
	MOVL(U32(0xffff0000), t)
	VPBROADCASTD(t, hi)
	vx, vy, rx, ry := ZMM(), ZMM(), ZMM(), ZMM()
	loop, done := "ploop", "pdone"
	if rows {
		loop, done = "bloop", "bdone"
	}
	SHRQ(U8(4), n)
	JZ(LabelRef(done))
	Label(loop)
	VMOVUPS(Mem{Base: x}, vx)
	VMOVUPS(Mem{Base: y}, vy)
	roundBF16(k, vx, rx)
	roundBF16(k, vy, ry)
	VPSRLD(U8(16), rx, rx)
	if rows {
		VPMOVDW(rx, Mem{Base: hx})
	}
	VPTERNLOGD(U8(0xf8), hi, ry, rx) // rx | (ry & hi)
	VMOVUPS(rx, Mem{Base: dst})
	if rows {
		VPSRLD(U8(16), ry, ry)
		VPMOVDW(ry, Mem{Base: hy})
	}
	ADDQ(U8(64), x)
	ADDQ(U8(64), y)
	if rows {
		ADDQ(U8(32), hx)
		ADDQ(U8(32), hy)
	}
	ADDQ(U8(64), dst)
	DECQ(n)
	JNZ(LabelRef(loop))
	Label(done)
	VZEROUPPER()
	RET()
}

// zmm lists Z0–Z31 by number.
var zmm = func() []reg.VecPhysical {
	zs := []reg.VecPhysical{reg.Z0, reg.Z1, reg.Z2, reg.Z3, reg.Z4, reg.Z5, reg.Z6, reg.Z7,
		reg.Z8, reg.Z9, reg.Z10, reg.Z11, reg.Z12, reg.Z13, reg.Z14, reg.Z15,
		reg.Z16, reg.Z17, reg.Z18, reg.Z19, reg.Z20, reg.Z21, reg.Z22, reg.Z23,
		reg.Z24, reg.Z25, reg.Z26, reg.Z27, reg.Z28, reg.Z29, reg.Z30, reg.Z31}
	for i, r := range zs {
		if int(r.PhysicalIndex()) != i {
			panic(fmt.Sprintf("zmm: Z%d has index %d", i, r.PhysicalIndex()))
		}
	}
	return zs
}()
