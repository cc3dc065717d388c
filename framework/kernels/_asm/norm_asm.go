package main

import (
	. "github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/gotypes"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// The row kernels of RMSNorm (rmsnorm.go), in ../vec_amd64.s beside the
// element-wise kernels; rmsnorm.go's Go versions define what each computes:
//
//	rmsSumSq:   Σ_i x[i]² in float64
//	rmsScale:   y[i] = w[i]·(x[i]·r)
//	rmsBwdRow:  x̂ = x·r; pw[i] += dy[i]·x̂[i] (float64); dot = Σ (dy⊙w)·x̂
//	            in float64; dx = r·(dy⊙w − x̂·float32(dot/n))
//
// for n a multiple of 8. Each takes eight float32 lanes (ymm) at a time,
// and the float64 sums run on eight float64 lanes (zmm, AVX-512F): the
// per-lane order differs from the Go loops' single running sum, and the
// float64 products are fused (one rounding), so results differ from the
// Go versions in the last bits of a float64 sum.

// vexStore stores the low float32 (float64 with double) of x into the
// result r with a VEX move: avo's Store writes MOVSS/MOVSD, legacy SSE,
// which costs a state transition while the upper halves of the vector
// registers are dirty.
func vexStore(x reg.VecVirtual, r gotypes.Component, double bool) {
	b, err := r.Resolve()
	if err != nil {
		panic(err)
	}
	if double {
		VMOVSD(x, b.Addr)
		return
	}
	VMOVSS(x, b.Addr)
}

// genNorm generates the RMSNorm row kernels (AVX-512 only).
func genNorm() {
	normSumSq()
	normScale()
	normBwdRow()
}

// hsumPD adds the eight float64 lanes of acc (clobbered) in a fixed order
// and returns the sum in the low lane of an xmm register.
func hsumPD(acc reg.VecVirtual) reg.VecVirtual {
	hi := YMM()
	VEXTRACTF64X4(U8(1), acc, hi)
	lo := YMM()
	VADDPD(hi, acc.AsY(), lo)
	h2 := XMM()
	VEXTRACTF128(U8(1), lo, h2)
	s := XMM()
	VADDPD(h2, lo.AsX(), s)
	h3 := XMM()
	VUNPCKHPD(s, s, h3)
	VADDSD(h3, s, s)
	return s
}

func normSumSq() {
	TEXT("rmsSumSqAVX512", NOSPLIT, "func(x *float32, n int) float64")
	Pragma("noescape")
	Doc("rmsSumSqAVX512 is rmsSumSqGo for n a multiple of 8: see _asm/norm_asm.go.")
	x := Load(Param("x"), GP64())
	n := Load(Param("n"), GP64())
	acc := ZMM()
	VXORPD(acc, acc, acc)
	TESTQ(n, n)
	JZ(LabelRef("done"))
	Label("loop")
	t := ZMM()
	VCVTPS2PD(Mem{Base: x}, t)
	VFMADD231PD(t, t, acc)
	ADDQ(U32(32), x)
	SUBQ(U32(8), n)
	JNZ(LabelRef("loop"))
	Label("done")
	s := hsumPD(acc)
	vexStore(s, ReturnIndex(0), true)
	VZEROUPPER()
	RET()
}

func normScale() {
	TEXT("rmsScaleAVX512", NOSPLIT, "func(y, x, w *float32, r float32, n int)")
	Pragma("noescape")
	Doc("rmsScaleAVX512 is rmsScaleGo for n a multiple of 8: see _asm/norm_asm.go.")
	y := Load(Param("y"), GP64())
	x := Load(Param("x"), GP64())
	w := Load(Param("w"), GP64())
	rx := Load(Param("r"), XMM())
	n := Load(Param("n"), GP64())
	r := YMM()
	VBROADCASTSS(rx, r)
	TESTQ(n, n)
	JZ(LabelRef("done"))
	Label("loop")
	t := YMM()
	VMULPS(Mem{Base: x}, r, t)
	VMULPS(Mem{Base: w}, t, t)
	VMOVUPS(t, Mem{Base: y})
	ADDQ(U32(32), x)
	ADDQ(U32(32), w)
	ADDQ(U32(32), y)
	SUBQ(U32(8), n)
	JNZ(LabelRef("loop"))
	Label("done")
	VZEROUPPER()
	RET()
}

func normBwdRow() {
	TEXT("rmsBwdRowAVX512", NOSPLIT, "func(dx, dy, x, w *float32, pw *float64, r float32, n int)")
	Pragma("noescape")
	Doc("rmsBwdRowAVX512 is rmsBwdRowGo for n a multiple of 8: see _asm/norm_asm.go.")
	pw := Load(Param("pw"), GP64())
	rx := Load(Param("r"), XMM())
	r := YMM()
	VBROADCASTSS(rx, r)
	acc := ZMM()
	VXORPD(acc, acc, acc)

	// Pass 1: dot and dw's partial sums.
	dy := Load(Param("dy"), GP64())
	x := Load(Param("x"), GP64())
	w := Load(Param("w"), GP64())
	c := Load(Param("n"), GP64())
	TESTQ(c, c)
	JZ(LabelRef("done"))
	Label("pass1")
	xh, g, p := YMM(), YMM(), YMM()
	VMULPS(Mem{Base: x}, r, xh)
	VMOVUPS(Mem{Base: dy}, p)
	VMULPS(Mem{Base: w}, p, g)
	VMULPS(xh, p, p)
	gd, hd, pd := ZMM(), ZMM(), ZMM()
	VCVTPS2PD(g, gd)
	VCVTPS2PD(xh, hd)
	VFMADD231PD(gd, hd, acc)
	VCVTPS2PD(p, pd)
	VADDPD(Mem{Base: pw}, pd, pd)
	VMOVUPD(pd, Mem{Base: pw})
	ADDQ(U32(32), x)
	ADDQ(U32(32), dy)
	ADDQ(U32(32), w)
	ADDQ(U32(64), pw)
	SUBQ(U32(8), c)
	JNZ(LabelRef("pass1"))

	// mean = float32(dot / n), broadcast.
	s := hsumPD(acc)
	n := Load(Param("n"), GP64())
	// VEX forms throughout: a legacy SSE instruction here, with the upper
	// halves of the vector registers dirty, costs a state transition.
	nd := XMM()
	VXORPD(nd, nd, nd)
	VCVTSI2SDQ(n, nd, nd)
	VDIVSD(nd, s, s)
	ms := XMM()
	VCVTSD2SS(s, s, ms)
	mean := YMM()
	VBROADCASTSS(ms, mean)

	// Pass 2: dx = r·(dy⊙w − x̂·mean).
	dx := Load(Param("dx"), GP64())
	dy2 := Load(Param("dy"), GP64())
	x2 := Load(Param("x"), GP64())
	w2 := Load(Param("w"), GP64())
	Label("pass2")
	xh2, t := YMM(), YMM()
	VMULPS(Mem{Base: x2}, r, xh2)
	VMOVUPS(Mem{Base: dy2}, t)
	VMULPS(Mem{Base: w2}, t, t)
	VFNMADD231PS(mean, xh2, t)
	VMULPS(r, t, t)
	VMOVUPS(t, Mem{Base: dx})
	ADDQ(U32(32), x2)
	ADDQ(U32(32), dy2)
	ADDQ(U32(32), w2)
	ADDQ(U32(32), dx)
	SUBQ(U32(8), n)
	JNZ(LabelRef("pass2"))
	Label("done")
	VZEROUPPER()
	RET()
}
