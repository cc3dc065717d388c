package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/ir"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// -kernel peak: the compute-ceiling loops in ../peak_amd64.s (and their
// declarations in ../peak_stubs_amd64.go), which `mambakit bench peak`
// times.
//
// See peakFMAGeneric and peakDotBF16Generic in ../peak.go for the Go
// equivalents. Each kernel runs n iterations; an iteration issues one
// multiply-add into each of its A accumulators, which do not depend on one
// another, so as many are in flight as the FMA pipes can take (a pipe
// needs latency × throughput of them: 4 cycles × 2 pipes = 8 on the CPUs
// measured; A is 12 or 16 for margin). x and y stay in registers: no load
// competes with the arithmetic.
//
//	fp32:  acc[i][j] = fma(x[j], y[j], acc[i][j])                 i < A, j < W lanes
//	bf16:  acc[i][j] += x[2j]·y[2j] + x[2j+1]·y[2j+1]            x, y bf16; acc fp32
//
// acc (A·W floats) is read before the loop and written after it, so the
// result of every instruction is observable: the test checks it.

// genPeak generates peak_amd64.s and peak_stubs_amd64.go.
func genPeak() {
	peakFMA("peakFMAAVX512", 16, true)
	peakFMA("peakFMAAVX2", 12, false)
	peakDotBF16()
}

// peakFMA emits name(n int, x, y, acc *float32) with accs accumulators of
// zmm (z) or ymm registers.
func peakFMA(name string, accs int, z bool) {
	width, vec := 8, func() reg.VecVirtual { return YMM() }
	if z {
		width, vec = 16, func() reg.VecVirtual { return ZMM() }
	}
	TEXT(name, NOSPLIT, "func(n int, x, y, acc *float32)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s sets acc[i·%d+j] = fma(x[j], y[j], acc[i·%d+j]) n times for i < %d, j < %d: see peakFMAGeneric.", name, width, width, accs, width))
	n := Load(Param("n"), GP64())
	px := Load(Param("x"), GP64())
	py := Load(Param("y"), GP64())
	pacc := Load(Param("acc"), GP64())
	x, y := vec(), vec()
	VMOVUPS(Mem{Base: px}, x)
	VMOVUPS(Mem{Base: py}, y)
	acc := make([]reg.VecVirtual, accs)
	for i := range acc {
		acc[i] = vec()
		VMOVUPS(Mem{Base: pacc, Disp: 4 * width * i}, acc[i])
	}
	TESTQ(n, n)
	JZ(LabelRef("done"))
	Label("loop")
	for i := range acc {
		VFMADD231PS(y, x, acc[i])
	}
	DECQ(n)
	JNZ(LabelRef("loop"))
	Label("done")
	for i := range acc {
		VMOVUPS(acc[i], Mem{Base: pacc, Disp: 4 * width * i})
	}
	VZEROUPPER()
	RET()
}

// peakDotBF16 emits peakDotBF16AVX512(n int, x, y *uint16, acc *float32):
// 16 zmm accumulators of 16 fp32 lanes, each fed by VDPBF16PS from x and y
// (32 bf16 each).
//
// Neither avo (v0.5.0) nor the Go assembler knows VDPBF16PS (AVX512_BF16),
// so the loop uses fixed registers (accumulators Z0–Z15, x in Z16, y in
// Z17) and emits each instruction's EVEX encoding with BYTE (vdpbf16ps).
func peakDotBF16() {
	const name = "peakDotBF16AVX512"
	TEXT(name, NOSPLIT, "func(n int, x, y *uint16, acc *float32)")
	Pragma("noescape")
	Doc(name + " sets acc[i·16+j] += x[2j]·y[2j] + x[2j+1]·y[2j+1] (bf16 products, fp32 sums; VDPBF16PS) n times for i < 16, j < 16: see peakDotBF16Generic.")
	n := Load(Param("n"), GP64())
	px := Load(Param("x"), GP64())
	py := Load(Param("y"), GP64())
	pacc := Load(Param("acc"), GP64())
	x, y := reg.Z16, reg.Z17
	VMOVUPS(Mem{Base: px}, x)
	VMOVUPS(Mem{Base: py}, y)
	acc := []reg.VecPhysical{reg.Z0, reg.Z1, reg.Z2, reg.Z3, reg.Z4, reg.Z5, reg.Z6, reg.Z7,
		reg.Z8, reg.Z9, reg.Z10, reg.Z11, reg.Z12, reg.Z13, reg.Z14, reg.Z15}
	for i, a := range acc {
		VMOVUPS(Mem{Base: pacc, Disp: 64 * i}, a)
	}
	TESTQ(n, n)
	JZ(LabelRef("done"))
	Label("loop")
	for i := range acc {
		vdpbf16ps(i, 16, 17)
	}
	DECQ(n)
	JNZ(LabelRef("loop"))
	Label("done")
	for i, a := range acc {
		VMOVUPS(a, Mem{Base: pacc, Disp: 64 * i})
	}
	VZEROUPPER()
	RET()
}

// vdpbf16ps emits VDPBF16PS zmm(dst), zmm(src1), zmm(src2) (Intel order:
// dst.fp32[j] += src1.bf16[2j+1]·src2.bf16[2j+1] + src1.bf16[2j]·src2.bf16[2j],
// no mask) as bytes: EVEX.512.F3.0F38.W0 52 /r, Intel SDM vol. 2A.
//
//	62                     EVEX escape
//	R X B R' 0 0 1 0       P0: R, R' = ¬bits 3, 4 of dst; X, B = ¬bits 4, 3 of src2; mm = 0F38
//	0 vvvv 1 1 0           P1: W0, vvvv = ¬bits 0–3 of src1, pp = F3
//	0 1 0 0 V' 0 0 0       P2: z = 0, L'L = 512 bits, b = 0, V' = ¬bit 4 of src1, no mask
//	52                     opcode
//	11 reg rm              ModRM: reg = dst bits 0–2, rm = src2 bits 0–2
//
// GNU as gives the same bytes for "vdpbf16ps %zmm17, %zmm16, %zmm0":
// 62 b2 7e 40 52 c1.
func vdpbf16ps(dst, src1, src2 int) {
	not := func(r, bit int) byte { return byte(^(r >> bit) & 1) }
	p0 := not(dst, 3)<<7 | not(src2, 4)<<6 | not(src2, 3)<<5 | not(dst, 4)<<4 | 0b10
	p1 := byte(^src1&15)<<3 | 1<<2 | 0b10
	p2 := byte(0b10)<<5 | not(src1, 4)<<3
	modrm := byte(0b11)<<6 | byte(dst&7)<<3 | byte(src2&7)
	for _, b := range []byte{0x62, p0, p1, p2, 0x52, modrm} {
		Instruction(&ir.Instruction{Opcode: "BYTE", Operands: []Op{U8(b)}})
	}
}
