package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// isa is one instruction set of the scan kernels: AVX-512 (16 lanes of a
// zmm register) or AVX2 with FMA (8 lanes of a ymm register), with the
// kernel's table of constants and those of them held in registers. The
// real scan (scanISA) and the complex one (cscanISA) add their kernels to
// it; the vector math both use is in mathfn.go.
type isa struct {
	name  string
	W     int  // lanes
	z     bool // AVX-512
	tbl   Mem
	index map[string]int
	regs  map[string]VecVirtual
	// expTable: exp is expT (the AVX-512 table) rather than expN.
	expTable bool
	// log1p names softplus's coefficients of log1p(e)/(2s), lowest degree
	// first after the 1 (mathConst: m* minimax, l* Taylor).
	log1p []string
}

// isas returns the instruction sets in the order the kernels are
// generated: AVX-512, then AVX2.
func isas() []*isa { return []*isa{{name: "AVX512", W: 16, z: true}, {name: "AVX2", W: 8}} }

// table emits the constants names (lane gives lane j of each) as the
// read-only symbol sym+a.name, each stored W times, in order.
func (a *isa) table(sym string, names []string, lane func(name string, j int) uint32) {
	a.tbl = GLOBL(sym+a.name, RODATA|NOPTR)
	a.index = map[string]int{}
	for i, name := range names {
		a.index[name] = i
		for j := 0; j < a.W; j++ {
			DATA((i*a.W+j)*4, U32(lane(name, j)))
		}
	}
}

func (a *isa) vec() VecVirtual {
	if a.z {
		return ZMM()
	}
	return YMM()
}

func (a *isa) vb() int { return 4 * a.W }

// k returns constant name as a register operand when loaded, else memory.
func (a *isa) k(name string) Op {
	if r, ok := a.regs[name]; ok {
		return r
	}
	return a.mem(name)
}

// kreg returns constant name in a register, loading it when not resident.
func (a *isa) kreg(name string) VecVirtual {
	if r, ok := a.regs[name]; ok {
		return r
	}
	r := a.vec()
	VMOVUPS(a.mem(name), r)
	return r
}

func (a *isa) mem(name string) Mem {
	i, ok := a.index[name]
	if !ok {
		panic(name)
	}
	return a.tbl.Offset(i * a.vb())
}

// holdConsts loads the constants names into registers for the kernel
// being generated (k and kreg then use them); the rest stay in memory.
func (a *isa) holdConsts(names ...string) {
	a.regs = map[string]VecVirtual{}
	for _, n := range names {
		r := a.vec()
		VMOVUPS(a.mem(n), r)
		a.regs[n] = r
	}
}

// bmul sets dst = broadcast(*mem)·src (one instruction on AVX-512).
func (a *isa) bmul(mem Mem, src, dst VecVirtual) {
	if a.z {
		VMULPS_BCST(mem, src, dst)
		return
	}
	VBROADCASTSS(mem, dst)
	VMULPS(src, dst, dst)
}

// bfma sets acc += broadcast(*mem)·src.
func (a *isa) bfma(mem Mem, src, acc VecVirtual) {
	if a.z {
		VFMADD231PS_BCST(mem, src, acc)
		return
	}
	b := a.vec()
	VBROADCASTSS(mem, b)
	VFMADD231PS(b, src, acc)
}

// bfnma sets acc −= broadcast(*mem)·src.
func (a *isa) bfnma(mem Mem, src, acc VecVirtual) {
	if a.z {
		VFNMADD231PS_BCST(mem, src, acc)
		return
	}
	b := a.vec()
	VBROADCASTSS(mem, b)
	VFNMADD231PS(b, src, acc)
}

func m(base Register, disp int) Mem { return Mem{Base: base, Disp: disp} }
func mi(base, index Register) Mem   { return Mem{Base: base, Index: index, Scale: 1} }

// each calls f on every register of xs in order: the helpers issue one
// instruction across xs at a time so that independent chains interleave.
func each(xs []VecVirtual, f func(i int, x VecVirtual)) {
	for i, x := range xs {
		f(i, x)
	}
}

// nLoop runs body over the n of a state, *nmem of them, with ncnt as the
// counter: u = 2 steps two n at a time (then one for an odd N) so that the
// independent chains of two n interleave; u = 1 one at a time.
func nLoop(name string, nmem Mem, ncnt Register, u int, body func(u int)) {
	if u == 1 {
		MOVQ(nmem, ncnt)
		Label(name + "_loop")
		body(1)
		DECQ(ncnt)
		JNZ(LabelRef(name + "_loop"))
		return
	}
	MOVQ(nmem, ncnt)
	SHRQ(U8(1), ncnt)
	JZ(LabelRef(name + "_odd"))
	Label(name + "_loop")
	body(2)
	DECQ(ncnt)
	JNZ(LabelRef(name + "_loop"))
	Label(name + "_odd")
	MOVQ(nmem, ncnt)
	TESTQ(U32(1), ncnt)
	JZ(LabelRef(name + "_done"))
	body(1)
	Label(name + "_done")
}

// Per time step of a chunk, the backward kernels' dts holds 4 vectors: Δ,
// σ(delta+bias) (the derivative of softplus), σ(z), and the ungated y.
const (
	dtsDT = iota
	dtsSD
	dtsSZ
	dtsY
	dtsN
)

// laneSum emits name(dst, src *float32, rows int), which sets dst[r] =
// Σ_j src[r·W + j] for r < rows: the lanes of the backward kernels' dB,
// dC sums.
func (a *isa) laneSum(name string) {
	TEXT(name, NOSPLIT, "func(dst, src *float32, rows int)")
	Pragma("noescape")
	Doc(name + " sets dst[r] to the sum of the W floats at src[r·W:] for r < rows.")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	n := Load(Param("rows"), GP64())
	TESTQ(n, n)
	JZ(LabelRef("done"))
	Label("loop")
	y := YMM()
	if a.z {
		z := ZMM()
		VMOVUPS(m(src, 0), z)
		VEXTRACTF64X4(U8(1), z, y)
		VADDPS(z.AsY(), y, y)
	} else {
		VMOVUPS(m(src, 0), y)
	}
	x, x1 := XMM(), XMM()
	VEXTRACTF128(U8(1), y, x1)
	VADDPS(x1, y.AsX(), x)
	VMOVHLPS(x, x, x1)
	VADDPS(x1, x, x)
	VMOVSHDUP(x, x1)
	VADDSS(x1, x, x)
	VMOVSS(x, m(dst, 0))
	ADDQ(U32(a.vb()), src)
	ADDQ(U32(4), dst)
	DECQ(n)
	JNZ(LabelRef("loop"))
	Label("done")
	VZEROUPPER()
	RET()
}

func log2(x int) uint8 {
	for i := uint8(0); ; i++ {
		if 1<<i == x {
			return i
		}
	}
}
