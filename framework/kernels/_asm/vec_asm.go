package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// -kernel vec: the element-wise vector kernels in ../vec_amd64.s (and
// their declarations in ../vec_stubs_amd64.go).
//
// See vec.go for the Go versions, which define what each kernel computes:
//
//	vecMulAdd: dst[i] += a[i]·b[i]   (one FMA, rounded once)
//	vecAdd:    dst[i] += a[i]
//
// for i < n. The AVX-512 kernels run 64 lanes per step, then 16, then the
// last n%16 under a lane mask; the AVX2 ones 32, then 8, then one at a
// time. Every lane computes the same rounding as the Go version (the FMA
// through math.FMA there).

// genVec generates vec_amd64.s and vec_stubs_amd64.go.
func genVec() {
	for _, fma := range []bool{true, false} {
		vecAVX512(fma)
		vecAVX2(fma)
	}
	genNorm()
}

func vecName(fma bool, isa string) string {
	if fma {
		return "vecMulAdd" + isa
	}
	return "vecAdd" + isa
}

// prologue declares the kernel of isa, loads its arguments (b only with
// fma) and returns them with a function that moves the pointers on.
func vecPrologue(fma bool, isa string, lanes int) (dst, a, b reg.Register, n reg.GPVirtual, advance func(bytes int)) {
	sig := "func(dst, a, b *float32, n int)"
	if !fma {
		sig = "func(dst, a *float32, n int)"
	}
	TEXT(vecName(fma, isa), NOSPLIT, sig)
	Pragma("noescape")
	Doc(fmt.Sprintf("%s is %sGo on %d lanes: see vec_asm.go.", vecName(fma, isa), vecName(fma, ""), lanes))
	dst = Load(Param("dst"), GP64())
	a = Load(Param("a"), GP64())
	if fma {
		b = Load(Param("b"), GP64())
	}
	n = GP64()
	Load(Param("n"), n)
	advance = func(bytes int) {
		ADDQ(U32(bytes), dst)
		ADDQ(U32(bytes), a)
		if fma {
			ADDQ(U32(bytes), b)
		}
	}
	return dst, a, b, n, advance
}

func vecAVX512(fma bool) {
	dst, a, b, n, advance := vecPrologue(fma, "AVX512", 16)
	d := []reg.VecVirtual{ZMM(), ZMM(), ZMM(), ZMM()}
	x := []reg.VecVirtual{ZMM(), ZMM(), ZMM(), ZMM()}

	body := func(vecs int, km reg.Register) {
		for v := 0; v < vecs; v++ {
			off := 64 * v
			if km != nil {
				VMOVUPS_Z(Mem{Base: dst, Disp: off}, km, d[v])
				VMOVUPS_Z(Mem{Base: a, Disp: off}, km, x[v])
			} else {
				VMOVUPS(Mem{Base: dst, Disp: off}, d[v])
				VMOVUPS(Mem{Base: a, Disp: off}, x[v])
			}
			if fma {
				if km != nil {
					y := ZMM()
					VMOVUPS_Z(Mem{Base: b, Disp: off}, km, y)
					VFMADD231PS(y, x[v], d[v])
				} else {
					VFMADD231PS(Mem{Base: b, Disp: off}, x[v], d[v])
				}
			} else {
				VADDPS(x[v], d[v], d[v])
			}
		}
		for v := 0; v < vecs; v++ {
			if km != nil {
				VMOVUPS(d[v], km, Mem{Base: dst, Disp: 64 * v})
			} else {
				VMOVUPS(d[v], Mem{Base: dst, Disp: 64 * v})
			}
		}
	}

	Label("loop64")
	CMPQ(n, Imm(64))
	JL(LabelRef("loop16"))
	body(4, nil)
	advance(256)
	SUBQ(Imm(64), n)
	JMP(LabelRef("loop64"))

	Label("loop16")
	CMPQ(n, Imm(16))
	JL(LabelRef("tail"))
	body(1, nil)
	advance(64)
	SUBQ(Imm(16), n)
	JMP(LabelRef("loop16"))

	Label("tail")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	// k = (1 << n) − 1: the last n lanes.
	m := GP32()
	MOVL(U32(1), m)
	SHLXL(n.As32(), m, m)
	DECL(m)
	km := K()
	KMOVW(m, km)
	body(1, km)

	Label("done")
	VZEROUPPER()
	RET()
}

func vecAVX2(fma bool) {
	dst, a, b, n, advance := vecPrologue(fma, "AVX2", 8)
	d := []reg.VecVirtual{YMM(), YMM(), YMM(), YMM()}
	x := []reg.VecVirtual{YMM(), YMM(), YMM(), YMM()}
	body := func(vecs, width int) {
		for v := 0; v < vecs; v++ {
			off := width * v
			if width == 4 { // one lane
				VMOVSS(Mem{Base: dst, Disp: off}, d[v].AsX())
				VMOVSS(Mem{Base: a, Disp: off}, x[v].AsX())
				if fma {
					VFMADD231SS(Mem{Base: b, Disp: off}, x[v].AsX(), d[v].AsX())
				} else {
					VADDSS(x[v].AsX(), d[v].AsX(), d[v].AsX())
				}
				VMOVSS(d[v].AsX(), Mem{Base: dst, Disp: off})
				continue
			}
			VMOVUPS(Mem{Base: dst, Disp: off}, d[v])
			VMOVUPS(Mem{Base: a, Disp: off}, x[v])
			if fma {
				VFMADD231PS(Mem{Base: b, Disp: off}, x[v], d[v])
			} else {
				VADDPS(x[v], d[v], d[v])
			}
		}
		if width != 4 {
			for v := 0; v < vecs; v++ {
				VMOVUPS(d[v], Mem{Base: dst, Disp: width * v})
			}
		}
	}
	Label("loop32")
	CMPQ(n, Imm(32))
	JL(LabelRef("loop8"))
	body(4, 32)
	advance(128)
	SUBQ(Imm(32), n)
	JMP(LabelRef("loop32"))

	Label("loop8")
	CMPQ(n, Imm(8))
	JL(LabelRef("loop1"))
	body(1, 32)
	advance(32)
	SUBQ(Imm(8), n)
	JMP(LabelRef("loop8"))

	Label("loop1")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	body(1, 4)
	advance(4)
	DECQ(n)
	JMP(LabelRef("loop1"))

	Label("done")
	VZEROUPPER()
	RET()
}
