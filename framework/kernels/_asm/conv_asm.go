package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// -kernel conv: the causal convolution's block kernels in ../conv_amd64.s
// (and their declarations in ../conv_stubs_amd64.go), one per width K ≤
// convMaxK. Each runs one block of 16 channels (a zmm register) over n
// positions whose taps all read X: the tap weights stay in registers while
// the kernel walks time, rows ld floats apart. conv_fused.go drives them;
// the row loops of conv.go, which call vecMulAdd once per tap and row,
// define what they compute, and every lane rounds as they do:
//
//	forward   y[t] = bias, then y[t] += w[k]·x[t−(K−1)+k] for k = 0…K−1, each
//	          one FMA; with u, u[t] = y[t]/(1 + e^−y[t]) as siluAVX512
//	          computes it (the same exp, instruction by instruction)
//	backward  db += dy[t]; dw[k] += dy[t]·x[t−(K−1)+k]; dx[t−(K−1)+k] +=
//	          dy[t]·w[k], for t in order, each sum one FMA a term; with
//	          du, dy[t] = du[t]·silu'(yc[t]) as siluGradAVX512 computes it
//
// The backward kernel keeps the K−1 rows of dx still being summed in
// registers and stores each once complete.

// convMaxK is the widest convolution with a block kernel.
const convMaxK = 4

// convConsts is the table of the forward kernels' SiLU (expT; mathConst).
var convConsts = []string{"hiT", "loT", "magic2", "log2e32", "ln2hi32", "ln2lo32",
	"tab0", "tab1", "half", "sixth", "one", "emask", "sign"}

// genConv generates conv_amd64.s and conv_stubs_amd64.go.
func genConv() {
	a := &isa{name: "AVX512", W: 16, z: true, expTable: true}
	a.table("convconst", convConsts, a.mathConst)
	for k := 1; k <= convMaxK; k++ {
		convFwd(a, k)
	}
	for k := 1; k <= convMaxK; k++ {
		convBwd(a, k)
	}
}

// convTaps returns the memory operands of the K taps of the row at x: tap
// k is x + k·ldb bytes, ldb the row stride in bytes.
func convTaps(x, ldb Register, K int) []Mem {
	taps := make([]Mem, K)
	var ld3 Register
	if K > 3 {
		ld3 = GP64()
		LEAQ(Mem{Base: ldb, Index: ldb, Scale: 2}, ld3)
	}
	for k := range taps {
		switch k {
		case 0:
			taps[k] = m(x, 0)
		case 3:
			taps[k] = Mem{Base: x, Index: ld3, Scale: 1}
		default:
			taps[k] = Mem{Base: x, Index: ldb, Scale: uint8(k)}
		}
	}
	return taps
}

// convWeights loads the K tap vectors at w, ldwb bytes apart (clobbering
// w), into registers.
func convWeights(w, ldwb Register, K int) []VecVirtual {
	ws := make([]VecVirtual, K)
	for k := range ws {
		ws[k] = ZMM()
		VMOVUPS(m(w, 0), ws[k])
		if k < K-1 {
			ADDQ(ldwb, w)
		}
	}
	return ws
}

// loadStride loads the int parameter name (floats) as a byte count.
func loadStride(name string) Register {
	r := Load(Param(name), GP64())
	SHLQ(U8(2), r)
	return r
}

func convFwd(a *isa, K int) {
	name := fmt.Sprintf("convFwd%dAVX512", K)
	TEXT(name, NOSPLIT, "func(y, u, x, w, bias *float32, n, ld, ldw int)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s is the convolution of width %d on 16 channels and n positions (u nil: no SiLU): see _asm/conv_asm.go.", name, K))
	y := Load(Param("y"), GP64())
	u := Load(Param("u"), GP64())
	x := Load(Param("x"), GP64())
	w := Load(Param("w"), GP64())
	bp := Load(Param("bias"), GP64())
	n := Load(Param("n"), GP64())
	ldb := loadStride("ld")
	ldwb := loadStride("ldw")
	ws := convWeights(w, ldwb, K)
	bias := ZMM()
	VMOVUPS(m(bp, 0), bias)
	taps := convTaps(x, ldb, K)
	TESTQ(n, n)
	JZ(LabelRef("done"))
	TESTQ(u, u)
	JNZ(LabelRef("silu"))

	step := func() VecVirtual {
		acc := ZMM()
		VMOVAPS(bias, acc)
		for k := range K {
			VFMADD231PS(taps[k], ws[k], acc)
		}
		VMOVUPS(acc, m(y, 0))
		return acc
	}
	next := func(label string) {
		ADDQ(ldb, x)
		ADDQ(ldb, y)
		DECQ(n)
		JNZ(LabelRef(label))
		JMP(LabelRef("done"))
	}

	Label("plain")
	step()
	next("plain")

	// SiLU as siluVec (scan_asm.go) computes it from the stored y.
	Label("silu")
	a.holdConsts(convConsts...)
	Label("silu_loop")
	acc := step()
	nx := ZMM()
	VXORPS(a.k("sign"), acc, nx)
	e := a.exp(nx) // e^−y
	VADDPS(a.k("one"), e, e)
	out := ZMM()
	VDIVPS(e, acc, out) // y/(1+e)
	VMOVUPS(out, m(u, 0))
	ADDQ(ldb, u)
	next("silu_loop")

	Label("done")
	VZEROUPPER()
	RET()
}

func convBwd(a *isa, K int) {
	name := fmt.Sprintf("convBwd%dAVX512", K)
	TEXT(name, NOSPLIT, "func(dx, dw, db, dy, du, yc, x, w *float32, n, ld, ldw int)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s is the gradient of the convolution of width %d on 16 channels and n positions (dx nil: no dx; du not nil: dy = du·silu'(yc)): see _asm/conv_asm.go.", name, K))
	dx := Load(Param("dx"), GP64())
	dwp := Load(Param("dw"), GP64())
	dbp := Load(Param("db"), GP64())
	dy := Load(Param("dy"), GP64())
	du := Load(Param("du"), GP64())
	yc := Load(Param("yc"), GP64())
	x := Load(Param("x"), GP64())
	w := Load(Param("w"), GP64())
	n := Load(Param("n"), GP64())
	ldb := loadStride("ld")
	ldwb := loadStride("ldw")
	ws := convWeights(w, ldwb, K)
	// The per-row sums dw (K taps, ldwb apart) and db, held across the run.
	dws := make([]VecVirtual, K)
	dwk := GP64()
	MOVQ(dwp, dwk)
	for k := range dws {
		dws[k] = ZMM()
		VMOVUPS(m(dwk, 0), dws[k])
		if k < K-1 {
			ADDQ(ldwb, dwk)
		}
	}
	db := ZMM()
	VMOVUPS(m(dbp, 0), db)
	taps := convTaps(x, ldb, K)
	TESTQ(n, n)
	JZ(LabelRef("store"))

	// acc[j] is dx at row t−(K−1)+j, j < K−1, before step t adds to it:
	// the rows before the run start from what dx holds.
	acc := make([]VecVirtual, K)
	for j := range acc {
		acc[j] = ZMM()
	}
	// dyOf loads dy[t], or computes du[t]·silu'(yc[t]) as siluVec
	// (scan_asm.go) does.
	dyOf := func(silu bool) VecVirtual {
		if !silu {
			d := ZMM()
			VMOVUPS(m(dy, 0), d)
			ADDQ(ldb, dy)
			return d
		}
		y, nx := ZMM(), ZMM()
		VMOVUPS(m(yc, 0), y)
		VXORPS(a.k("sign"), y, nx)
		e := a.exp(nx) // e^−y
		VADDPS(a.k("one"), e, e)
		sg, t := ZMM(), ZMM()
		VMOVUPS(a.k("one"), sg)
		VDIVPS(e, sg, sg) // σ
		VMOVUPS(a.k("one"), t)
		VSUBPS(sg, t, t) // 1 − σ
		VMULPS(y, t, t)
		VADDPS(a.k("one"), t, t) // 1 + y·(1 − σ)
		d := ZMM()
		VMULPS(m(du, 0), sg, d) // du·σ
		VMULPS(t, d, d)
		ADDQ(ldb, du)
		ADDQ(ldb, yc)
		return d
	}
	step := func(silu, withDX bool) {
		d := dyOf(silu)
		VADDPS(d, db, db)
		for k := range K {
			VFMADD231PS(taps[k], d, dws[k])
		}
		if withDX {
			VXORPS(acc[K-1], acc[K-1], acc[K-1])
			for k := range K {
				VFMADD231PS(ws[k], d, acc[k])
			}
			VMOVUPS(acc[0], m(dx, 0))
			for j := 0; j < K-1; j++ {
				VMOVAPS(acc[j+1], acc[j])
			}
			ADDQ(ldb, dx)
		}
		ADDQ(ldb, x)
		DECQ(n)
	}
	// loop emits the loop of one variant, entered at label.
	loop := func(label string, silu, withDX bool) {
		Label(label)
		var dxRows []Mem
		if withDX {
			dxRows = convTaps(dx, ldb, K)
			for j := 0; j < K-1; j++ {
				VMOVUPS(dxRows[j], acc[j])
			}
		}
		if silu {
			a.holdConsts("magic2", "tab0", "tab1", "one")
		}
		Label(label + "_loop")
		step(silu, withDX)
		JNZ(LabelRef(label + "_loop"))
		for j := 0; withDX && j < K-1; j++ {
			VMOVUPS(acc[j], dxRows[j])
		}
		JMP(LabelRef("store"))
	}

	TESTQ(du, du)
	JNZ(LabelRef("silu"))
	TESTQ(dx, dx)
	JNZ(LabelRef("dx"))
	loop("nodx", false, false)
	loop("dx", false, true)
	Label("silu")
	TESTQ(dx, dx)
	JNZ(LabelRef("silu_dx"))
	loop("silu_nodx", true, false)
	loop("silu_dx", true, true)

	Label("store")
	for k := range dws {
		VMOVUPS(dws[k], m(dwp, 0))
		if k < K-1 {
			ADDQ(ldwb, dwp)
		}
	}
	VMOVUPS(db, m(dbp, 0))
	VZEROUPPER()
	RET()
}
