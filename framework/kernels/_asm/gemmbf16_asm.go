package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// -kernel gemmbf16: the bf16 matrix-multiply tile in ../matmul_bf16_amd64.s
// (and its declaration in ../matmul_bf16_stubs_amd64.go).
//
// See bf16TileGo in ../matmul_bf16_blocked.go for the Go equivalent, and
// that file for the packed layout. gemmBF16AVX512 computes one 14×32 tile
// of C from kc2 steps of bfloat16 pairs:
//
//	acc[r][j] += A(r,2q+1)·B(2q+1,j) + A(r,2q)·B(2q,j)    q < kc2, VDPBF16PS
//	C[r][j]    = acc[r][j]                                flags&1 == 0
//	C[r][j]    = acc[r][j] + beta·C[r][j]                 flags&1 == 1 (one FMA)
//
// Each step loads the B sliver's 32 pair words (two zmm), then for each of
// the 14 rows broadcasts the row's pair word of A and issues one VDPBF16PS
// per half: 28 accumulators (Z0–Z27), B in Z28–Z29, the broadcasts
// alternating between Z30 and Z31. VDPBF16PS is emitted as bytes
// (vdpbf16ps, peak_asm.go), so every vector register is a fixed one.
func genGemmBF16() {
	const mr = 14
	TEXT("gemmBF16AVX512", NOSPLIT, "func(kc2 int, a, b *uint32, c *float32, ldc int, beta float32, flags int)")
	Pragma("noescape")
	Doc("gemmBF16AVX512 computes one 14×32 tile of bf16 products with float32 sums (VDPBF16PS): see _asm/gemmbf16_asm.go and bf16TileGo.")
	n := Load(Param("kc2"), GP64())
	pa := Load(Param("a"), GP64())
	pb := Load(Param("b"), GP64())
	pc := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	flags := Load(Param("flags"), GP64())
	SHLQ(U8(2), ldc)
	z := func(i int) reg.VecPhysical { return zmm[i] }
	for i := 0; i < 2*mr; i++ {
		VPXORD(z(i), z(i), z(i))
	}
	Label("loop")
	VMOVUPS(Mem{Base: pb}, z(28))
	VMOVUPS(Mem{Base: pb, Disp: 64}, z(29))
	for r := 0; r < mr; r++ {
		bc := 30 + r%2
		VPBROADCASTD(Mem{Base: pa, Disp: 4 * r}, z(bc))
		vdpbf16ps(2*r, 28, bc)
		vdpbf16ps(2*r+1, 29, bc)
	}
	ADDQ(U32(4*mr), pa)
	ADDQ(U32(4*32), pb)
	DECQ(n)
	JNZ(LabelRef("loop"))

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
