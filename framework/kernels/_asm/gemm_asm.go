package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// -kernel gemm: the matrix-multiply micro-kernels in ../matmul_amd64.s
// (and their declarations in ../matmul_stubs_amd64.go).
//
// See matMulGeneric in ../matmul.go for the Go equivalent of a whole
// product, and matmul_blocked.go for the loop nest that calls the kernels.
//
// Each kernel computes one MR×NR tile of C from kc steps of the sum over k:
//
//	acc[r][j] = Σ_p A(r, p)·B(p, j)          p = 0, 1, …, kc-1 in order
//	C[r][j]   = acc[r][j]                     flags&1 == 0 (beta = 0)
//	C[r][j]   = acc[r][j] + beta·C[r][j]      flags&1 == 1 (one FMA)
//
// for rows r < mr and the columns j selected by mask. A(r, p) is read at
// a + r·ars + p·acs bytes, so one kernel reads both a packed sliver
// (ars = 4, acs = 4·MR) and a row-major matrix in place (ars = 4·lda,
// acs = 4, or ars = 4, acs = 4·lda for a transposed one). B(p, j) is read
// at b + p·bcs + 4j: packed (bcs = 4·NR) or in place (bcs = 4·ldb); the
// AVX-512 kernels load it under the column mask, so in place they never
// read past column mask's last. The AVX2 kernel reads B packed only.

// genGemm generates matmul_amd64.s and matmul_stubs_amd64.go.
func genGemm() {
	gemmAVX512()
	gemmAVX2()
	gemv()
}

// rowAddr returns the operand for row r of A: rows are reached from one
// base pointer per five rows (rows 0–4, 5–9, …) with the row stride L and
// 3L as index registers.
func rowAddr(base []reg.Register, L, L3 reg.Register, r int) Mem {
	b := base[r/5]
	switch r % 5 {
	case 0:
		return Mem{Base: b}
	case 1:
		return Mem{Base: b, Index: L, Scale: 1}
	case 2:
		return Mem{Base: b, Index: L, Scale: 2}
	case 3:
		return Mem{Base: b, Index: L3, Scale: 1}
	default:
		return Mem{Base: b, Index: L, Scale: 4}
	}
}

// setupA loads a, ars, acs and sets up the base pointers for mr rows.
func setupA(mr int) (base []reg.Register, L, L3, acs reg.Register) {
	a := Load(Param("a"), GP64())
	L = Load(Param("ars"), GP64())
	acs = Load(Param("acs"), GP64())
	L3 = GP64()
	LEAQ(Mem{Base: L, Index: L, Scale: 2}, L3)
	base = []reg.Register{a}
	for g := 1; g*5 < mr; g++ {
		p := GP64()
		// p = previous base + 5·L
		LEAQ(Mem{Base: base[g-1], Index: L, Scale: 4}, p)
		ADDQ(L, p)
		base = append(base, p)
	}
	return base, L, L3, acs
}

func gemmAVX512() {
	// 14 rows × 2 zmm (32 columns): 28 accumulators, a broadcast register
	// per row feeding two FMAs.
	avx512Kernel("gemmKernelAVX512", 14, 2, false)
	// 8 rows × 2 zmm (32 columns) for short C (m ≤ 8, B row-major): 16
	// accumulators.
	avx512Kernel("gemmKernelAVX512M8", 8, 2, false)
	// 24 rows × 1 zmm (16 columns) for narrow C (n ≤ 16): 24 accumulators,
	// each FMA broadcasting its A element from memory.
	avx512Kernel("gemmKernelAVX512N16", 24, 1, true)
	// 24 rows × 1 ymm (8 columns) for n ≤ 8 (the x_proj Δ and dt_proj
	// input-gradient outputs).
	avx512KernelW("gemmKernelAVX512N8", 24, 1, true, true)
}

func avx512Kernel(name string, mr, nv int, bcst bool) { avx512KernelW(name, mr, nv, bcst, false) }

// avx512KernelW generates an AVX-512 kernel on zmm, or on ymm (EVEX,
// AVX512VL: 8 columns per register, the same flops per cycle on CPUs that
// split 512-bit FMAs in two) when y.
func avx512KernelW(name string, mr, nv int, bcst, y bool) {
	vec, width := ZMM, 64
	if y {
		vec, width = YMM, 32
		if nv != 1 {
			panic("ymm kernels have one register of columns")
		}
	}
	TEXT(name, NOSPLIT, "func(kc int, a *float32, ars, acs uintptr, b *float32, bcs uintptr, c *float32, ldc int, mr int, mask uint32, beta float32, flags int)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s computes one %d×%d tile: see gemm_asm.go.", name, mr, width/4*nv))
	acc := make([][]reg.VecVirtual, mr)
	for r := range acc {
		acc[r] = make([]reg.VecVirtual, nv)
		for j := range acc[r] {
			acc[r][j] = vec()
			VPXORD(acc[r][j], acc[r][j], acc[r][j])
		}
	}
	kc := Load(Param("kc"), GP64())
	base, L, L3, acs := setupA(mr)
	bp := Load(Param("b"), GP64())
	bcs := Load(Param("bcs"), GP64())
	bv := []reg.VecVirtual{vec(), vec()}
	bc := []reg.VecVirtual{vec(), vec()}
	// Column masks: B is loaded with them (so B may be read in place up
	// to its last column) and C stored with them.
	m := GP32()
	Load(Param("mask"), m)
	k1, k2 := K(), K()
	KMOVW(m, k1)
	SHRL(Imm(16), m)
	KMOVW(m, k2)
	ks := []reg.Register{k1, k2}

	// The tile of C is written (and read, with beta) after the loop: ask
	// for its lines now, so that a C that is not in the caches (a
	// product's output streams to memory) arrives while the loop runs
	// instead of stalling the stores. Rows past mr's last are harmless: a
	// prefetch never faults.
	{
		cp := Load(Param("c"), GP64())
		ldc := Load(Param("ldc"), GP64())
		SHLQ(Imm(2), ldc)
		for r := 0; r < mr; r++ {
			for d := 0; d < width*nv; d += 64 {
				PREFETCHT0(Mem{Base: cp, Disp: d})
			}
			if r < mr-1 {
				ADDQ(ldc, cp)
			}
		}
	}

	Label("loop")
	for j := 0; j < nv; j++ {
		VMOVUPS_Z(Mem{Base: bp, Disp: width * j}, ks[j], bv[j])
	}
	for r := 0; r < mr; r++ {
		if bcst {
			for j := 0; j < nv; j++ {
				VFMADD231PS_BCST(rowAddr(base, L, L3, r), bv[j], acc[r][j])
			}
			continue
		}
		x := bc[r%2]
		VBROADCASTSS(rowAddr(base, L, L3, r), x)
		for j := 0; j < nv; j++ {
			VFMADD231PS(bv[j], x, acc[r][j])
		}
	}
	for _, p := range base {
		ADDQ(acs, p)
	}
	ADDQ(bcs, bp)
	DECQ(kc)
	JNZ(LabelRef("loop"))

	// Store.
	cp := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(Imm(2), ldc)
	rows := Load(Param("mr"), GP64())
	flags := Load(Param("flags"), GP64())
	TESTQ(U32(1), flags)
	JNZ(LabelRef("beta"))
	for r := 0; r < mr; r++ {
		for j := 0; j < nv; j++ {
			VMOVUPS(acc[r][j], ks[j], Mem{Base: cp, Disp: width * j})
		}
		if r < mr-1 {
			CMPQ(rows, Imm(uint64(r+1)))
			JEQ(LabelRef("done"))
			ADDQ(ldc, cp)
		}
	}
	JMP(LabelRef("done"))

	Label("beta")
	beta := bc[0]
	VBROADCASTSS(paramAddr("beta"), beta)
	for r := 0; r < mr; r++ {
		for j := 0; j < nv; j++ {
			VMOVUPS_Z(Mem{Base: cp, Disp: width * j}, ks[j], bv[j])
			VFMADD231PS(bv[j], beta, acc[r][j])
			VMOVUPS(acc[r][j], ks[j], Mem{Base: cp, Disp: width * j})
		}
		if r < mr-1 {
			CMPQ(rows, Imm(uint64(r+1)))
			JEQ(LabelRef("done"))
			ADDQ(ldc, cp)
		}
	}
	Label("done")
	VZEROUPPER()
	RET()
}

func gemmAVX2() {
	const mr, nv = 6, 2 // 6 rows × 2 ymm (16 columns): 12 accumulators
	TEXT("gemmKernelAVX2", NOSPLIT, "func(kc int, a *float32, ars, acs uintptr, b *float32, c *float32, ldc int, mr int, mask *int32, beta float32, flags int)")
	Pragma("noescape")
	Doc("gemmKernelAVX2 computes one 6×16 tile: see gemm_asm.go. mask points", "to 16 int32 lane masks (-1: store the column).")
	var acc [mr][nv]reg.VecVirtual
	for r := range acc {
		for j := range acc[r] {
			acc[r][j] = YMM()
			VXORPS(acc[r][j], acc[r][j], acc[r][j])
		}
	}
	kc := Load(Param("kc"), GP64())
	base, L, L3, acs := setupA(mr)
	bp := Load(Param("b"), GP64())
	bv := []reg.VecVirtual{YMM(), YMM()}
	bc := []reg.VecVirtual{YMM(), YMM()}

	Label("loop")
	for j := 0; j < nv; j++ {
		VMOVUPS(Mem{Base: bp, Disp: 32 * j}, bv[j])
	}
	for r := 0; r < mr; r++ {
		x := bc[r%2]
		VBROADCASTSS(rowAddr(base, L, L3, r), x)
		for j := 0; j < nv; j++ {
			VFMADD231PS(bv[j], x, acc[r][j])
		}
	}
	for _, p := range base {
		ADDQ(acs, p)
	}
	ADDQ(Imm(32*nv), bp)
	DECQ(kc)
	JNZ(LabelRef("loop"))

	cp := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(Imm(2), ldc)
	rows := Load(Param("mr"), GP64())
	flags := Load(Param("flags"), GP64())
	mp := Load(Param("mask"), GP64())
	// flags: bit 0 beta path, bit 1 partial columns (masked loads/stores).
	TESTQ(U32(2), flags)
	JNZ(LabelRef("masked"))
	TESTQ(U32(1), flags)
	JNZ(LabelRef("fullbeta"))
	storeAVX2(acc[:], cp, ldc, rows, false, false, nil, nil)
	JMP(LabelRef("done"))
	Label("fullbeta")
	VBROADCASTSS(paramAddr("beta"), bc[0])
	storeAVX2(acc[:], cp, ldc, rows, true, false, bc[0], nil)
	JMP(LabelRef("done"))

	Label("masked")
	mk := []reg.VecVirtual{bv[0], bv[1]}
	VMOVDQU(Mem{Base: mp}, mk[0])
	VMOVDQU(Mem{Base: mp, Disp: 32}, mk[1])
	TESTQ(U32(1), flags)
	JNZ(LabelRef("maskbeta"))
	storeAVX2(acc[:], cp, ldc, rows, false, true, nil, mk)
	JMP(LabelRef("done"))
	Label("maskbeta")
	VBROADCASTSS(paramAddr("beta"), bc[0])
	storeAVX2(acc[:], cp, ldc, rows, true, true, bc[0], mk)

	Label("done")
	VZEROUPPER()
	RET()
}

func storeAVX2(acc [][2]reg.VecVirtual, cp, ldc, rows reg.Register, beta, masked bool, bv reg.VecVirtual, mk []reg.VecVirtual) {
	ptr := GP64()
	MOVQ(cp, ptr)
	for r := range acc {
		for j := 0; j < 2; j++ {
			at := Mem{Base: ptr, Disp: 32 * j}
			if beta {
				t := YMM()
				if masked {
					VMASKMOVPS(at, mk[j], t)
				} else {
					VMOVUPS(at, t)
				}
				VFMADD231PS(t, bv, acc[r][j])
			}
			if masked {
				VMASKMOVPS(acc[r][j], mk[j], at)
			} else {
				VMOVUPS(acc[r][j], at)
			}
		}
		if r < len(acc)-1 {
			CMPQ(rows, Imm(uint64(r+1)))
			JEQ(LabelRef("done"))
			ADDQ(ldc, ptr)
		}
	}
}

func paramAddr(name string) Mem {
	b, err := Param(name).Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}

// gemv generates gemvDot8AVX512: eight dot products of one vector x with
// eight rows of W, for products with one to three rows (the one-token Step
// path), which are bound by streaming W from memory:
//
//	out[r] = Σ_p x[p]·W[r][p]   r = 0…7; p in 16-wide lanes, then the lanes
//	                            summed in a fixed tree (see gemvDot8Go)
func gemv() {
	TEXT("gemvDot8AVX512", NOSPLIT, "func(x *float32, w *float32, ldw uintptr, k int, tail uint32, out *float32)")
	Pragma("noescape")
	Doc("gemvDot8AVX512 computes out[r] = Σ_p x[p]·w[r·ldw/4+p] for r < 8: see gemm_asm.go.", "tail is the lane mask of the last k%16 elements.")
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
	k := GP64()
	Load(Param("k"), k)
	xv, wv := ZMM(), ZMM()

	Label("loop16")
	CMPQ(k, Imm(16))
	JL(LabelRef("tail"))
	VMOVUPS(Mem{Base: x}, xv)
	for r := 0; r < 8; r++ {
		VFMADD231PS(rowAddr(base, L, L3, r), xv, acc[r])
	}
	ADDQ(Imm(64), x)
	for _, b := range base {
		ADDQ(Imm(64), b)
	}
	SUBQ(Imm(16), k)
	JMP(LabelRef("loop16"))

	Label("tail")
	TESTQ(k, k)
	JZ(LabelRef("reduce"))
	m := GP32()
	Load(Param("tail"), m) // (1 << k%16) - 1
	km := K()
	KMOVW(m, km)
	VMOVUPS_Z(Mem{Base: x}, km, xv)
	for r := 0; r < 8; r++ {
		VMOVUPS_Z(rowAddr(base, L, L3, r), km, wv)
		VFMADD231PS(wv, xv, acc[r])
	}

	Label("reduce")
	out := Load(Param("out"), GP64())
	for r := 0; r < 8; r++ {
		z := acc[r]
		h := YMM()
		VEXTRACTF64X4(Imm(1), z, h)
		VADDPS(h, z.AsY(), h) // lanes 0–7 + 8–15
		q := XMM()
		VEXTRACTF128(Imm(1), h, q)
		VADDPS(q, h.AsX(), q) // 0–3 + 4–7
		t := XMM()
		VMOVHLPS(q, t, t)
		VADDPS(t, q, q) // 0–1 + 2–3
		VMOVSHDUP(q, t)
		VADDSS(t, q, q) // 0 + 1
		MOVSS(q, Mem{Base: out, Disp: 4 * r})
	}
	VZEROUPPER()
	RET()
}
