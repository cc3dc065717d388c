// Command scan_asm generates ../../scan_amd64.s: the selective scan forward
// and backward kernels for AVX-512 (16 channels per zmm register) and AVX2
// with FMA (8 channels per ymm register), and a vector exp used by the tests.
//
//	cd framework/kernels/_asm/scan && go run scan_asm.go -out ../../scan_amd64.s
//
// See scan_fused.go for the Go equivalent and scan_amd64.go for the argument
// blocks and scratch layouts. This directory has its own go.mod so that the
// go tool ignores it when building mambakit.
//
// Vectorization is across channels d: U, Delta, Z, Y are (B, L, D), so W
// consecutive channels of one time step are contiguous; Bm[t,n], Cm[t,n]
// are broadcast to all lanes; A is pre-transposed by the caller. Each
// kernel comes in four variants (see variant): per-channel (non-selective)
// B and C, shape (D, N), are transposed by the caller into the per-group
// tables next to A and read as vectors.
package main

import (
	"fmt"
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// exp(r) ≈ c0 + c1 r + … + c6 r⁶ on [−ln2/2, ln2/2]: a degree-6 minimax fit
// of the relative error (Remez, 1.9e−9 before rounding the coefficients to
// float32). AVX2's exp; AVX-512 uses the table (expT).
var expPoly = [7]float32{1, 1, 0.499999911, 0.166664198, 0.0416682251, 0.00837481581, 0.00138368458}

// 2^f ≈ 1 + f·(p1 + p2 f + … + p5 f⁴) on [−1/2, 1/2], for the inner
// loops: minimax of the relative error with the constant term fixed at
// exactly 1 (Lawson's algorithm: 9.2e−8), the float32 coefficients then
// tuned by a few ulps: evaluated in float32 with FMAs the error is at most
// 1.97 ulp over every float32 f in [−1/2, 1/2] (checked exhaustively).
// The exact 1 keeps 1 − Ā accurate when Ā is close to 1 (small Δ), on
// which the decay over many steps depends.
var exp2Poly = [6]float32{1, 0.693146944, 0.24022238, 0.0555073433, 0.00967151206, 0.00132647075}

// AVX-512 has a two-source permute (vpermt2ps) that looks up a 32-entry
// table held in two registers, so its 2^x and exp reduce the argument
// further, to within 1/64 of a table entry 2^(j/32), where shorter
// polynomials suffice (exp2T, expT). They trade FMAs for integer and
// permute operations, which the Zen 5 this was tuned on issues on other
// pipes than its one 512-bit FMA a cycle.
//
// exp2Tab: 2^(f/32) ≈ 1 + f·(q1 + q2 f) on f ∈ [−1/2, 1/2]: minimax of the
// relative error with the constant term fixed at 1 (Remez: 5.4e−8). With
// the table's rounding and the float32 FMAs, 2^x has an error of at most
// 1.76 ulp over every float32 argument x·32 of the inner loops' range
// (emulated exhaustively; see docs/kernels.md).
var exp2Tab = [2]float32{0.0216611717, 0.000234600288}

// log1pPoly: atanh(s)/s ≈ 1 + m1 q + … + m4 q⁴ with q = s² ∈ [0, 1/9]
// (softplus's log1p(e) = 2s·atanh(s)/s, s = e/(2+e) ≤ 1/3): minimax of the
// relative error (Remez), 5.4e−9 with the float32 coefficients. It replaces
// the degree-6 Taylor series (1.6e−8 truncation error).
var log1pPoly = [4]float32{0.333332092, 0.200107634, 0.140009031, 0.140059933}

type isa struct {
	name  string
	W     int  // lanes
	z     bool // AVX-512
	tbl   Mem
	index map[string]int
	regs  map[string]VecVirtual
}

// variant selects the kernels for per-channel (non-selective) B and C:
// those are then (D, N), transposed by the caller into the per-group
// tables next to A′ (vector operands), instead of (B, L, N) rows
// broadcast to all lanes.
type variant struct{ pb, pc bool }

var variants = []variant{{}, {pb: true}, {pc: true}, {pb: true, pc: true}}

func (v variant) suffix() string {
	switch {
	case v.pb && v.pc:
		return "PBC"
	case v.pb:
		return "PB"
	case v.pc:
		return "PC"
	}
	return ""
}

// fwdSlots returns the forward table's vectors per (group, n): A′, then B
// and C when per channel, and their slot indices.
func (v variant) fwdSlots() (S, sB, sC int) {
	S = 1
	if v.pb {
		sB = S
		S++
	}
	if v.pc {
		sC = S
		S++
	}
	return
}

// bwdSlots returns the backward grp vectors per (group, n): A′, dh, the dA
// sum, then B and the dB sum, C and the dC sum when per channel.
func (v variant) bwdSlots() (S, sB, sDB, sC, sDC int) {
	S = 3
	if v.pb {
		sB, sDB = S, S+1
		S += 2
	}
	if v.pc {
		sC, sDC = S, S+1
		S += 2
	}
	return
}

// constants, in table order. Each is stored W times.
var constNames = []string{"log2e", "magic", "ln2hi", "ln2lo", "c0", "c1", "c2", "c3", "c4", "c5", "c6",
	"hi", "lo", "one", "two", "sign", "m1", "m2", "m3", "m4",
	"hi2", "lo2", "magic2", "p0", "p1", "p2", "p3", "p4", "p5",
	"tab0", "tab1", "emask", "q1", "q2", "hi32", "lo32", "c32",
	"log2e32", "ln2hi32", "ln2lo32", "hiT", "loT", "half", "sixth", "bnd"}

// constLane returns lane j of constant name: the same in every lane except
// the table of 2^(j/32), lanes 0–15 in tab0 and 16–31 in tab1.
func (a *isa) constLane(name string, j int) uint32 {
	switch name {
	case "tab0":
		return math.Float32bits(float32(math.Exp2(float64(j%16) / 32)))
	case "tab1":
		return math.Float32bits(float32(math.Exp2(float64(16+j%16) / 32)))
	}
	return a.constBits(name)
}

func (a *isa) constBits(name string) uint32 {
	f := func(x float32) uint32 { return math.Float32bits(x) }
	switch name {
	case "log2e":
		return f(float32(math.Log2E))
	case "magic":
		// t = x·log2e + magic rounds x·log2e to an integer k in the low
		// mantissa bits; AVX2 adds the exponent bias so that t<<23 is 2^k.
		if a.z {
			return f(12582912)
		}
		return f(12582912 + 127)
	case "ln2hi":
		return f(float32(math.Ln2))
	case "ln2lo":
		return f(float32(math.Ln2 - float64(float32(math.Ln2))))
	case "hi", "hiT":
		return f(88.3) // k ≤ 127
	case "lo", "loT":
		return f(-87.3) // k ≥ −126: results below 2^−126 are not produced
	case "magic2":
		return f(12582912)
	case "hi2":
		return f(127.4) // k ≤ 127 and p < √2: the exponent stays ≤ 127
	case "lo2":
		return f(-125.4) // k ≥ −125 and p > 1/√2: the result stays normal
	case "hi32":
		return f(127.4 * 32) // K>>5 ≤ 127 and the table times 2^(f/32) < 2
	case "lo32":
		return f(-125.4 * 32) // K ≥ −4013: K>>5 ≥ −126 with K mod 32 ≥ 19, so the result stays normal
	case "bnd":
		return f(4012) // |Δ·A′| below it needs no clamp in exp2T
	case "c32":
		return f(32)
	case "emask":
		return 0xff800000 // the sign and exponent fields
	case "q1", "q2":
		return f(exp2Tab[name[1]-'1'])
	case "log2e32":
		return f(float32(32 * math.Log2E))
	case "ln2hi32":
		return f(float32(math.Ln2 / 32))
	case "ln2lo32":
		return f(float32(math.Ln2/32 - float64(float32(math.Ln2/32))))
	case "half":
		return f(0.5)
	case "sixth":
		return f(float32(1.0 / 6))
	case "one":
		return f(1)
	case "two":
		return f(2)
	case "sign":
		return 0x80000000
	}
	if name[0] == 'c' {
		return f(expPoly[name[1]-'0'])
	}
	if name[0] == 'p' {
		return f(exp2Poly[name[1]-'0'])
	}
	if name[0] == 'm' {
		return f(log1pPoly[name[1]-'1'])
	}
	panic(name)
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

// loadConsts puts the constants of the inner loops' 2^x in registers: on
// AVX-512 those of exp2T, the table included, on AVX2 the ones of exp2N
// that must be registers with 16 ymm.
func (a *isa) loadConsts() {
	a.regs = map[string]VecVirtual{}
	names := []string{"hi2", "lo2", "magic2"}
	if a.z {
		names = []string{"hi32", "lo32", "magic2", "q1", "q2", "tab0", "tab1", "emask"}
	}
	for _, n := range names {
		r := a.vec()
		VMOVUPS(a.mem(n), r)
		a.regs[n] = r
	}
}

// exp returns exp(x) in a register; x is clobbered.
func (a *isa) exp(x VecVirtual) VecVirtual {
	if a.z {
		return a.expT(x)
	}
	return a.expN([]VecVirtual{x})[0]
}

// exp2 is the inner loops' Ā: 2^(x/32) on AVX-512 (exp2T; A′ is then
// pre-scaled by 32), 2^x on AVX2 (exp2N).
func (a *isa) exp2(xs []VecVirtual) []VecVirtual {
	if a.z {
		return a.exp2T(xs, true)
	}
	return a.exp2N(xs)
}

// aScale is the factor of A′ = A·log2 e·aScale that the inner loops take.
func (a *isa) aScale() int {
	if a.z {
		return 32
	}
	return 1
}

// exp2T computes 2^(x/32) of each register of xs (clobbered; the results
// are in them) with the AVX-512 table: K = round(x) by the 1.5·2²³
// shifter, whose low 5 bits index the table T[j] = 2^(j/32) (vpermt2ps of
// two registers), f = x − K exactly, 2^(f/32) ≈ 1 + f·q(f) by exp2Tab, so
// that T·2^(f/32) = T + (T·f)·q, and K>>5 added to the exponent field. That
// is 4 FMA-pipe operations with the product x = Δ·A′ against exp2N's 6.
// With clamp, arguments are clamped to [−125.4·32, 127.4·32] (results
// normal and finite; NaN passes the clamps); without, the caller has
// checked that |x| ≤ 4012. Error: at most 1.76 ulp (see exp2Tab).
// The constant term of the polynomial is exactly 1, as in exp2N: Ā close
// to 1 keeps 1 − Ā accurate.
func (a *isa) exp2T(xs []VecVirtual, clamp bool) []VecVirtual {
	each := func(f func(i int, x VecVirtual)) {
		for i, x := range xs {
			f(i, x)
		}
	}
	n := len(xs)
	ts, ks, tb, qs := make([]VecVirtual, n), make([]VecVirtual, n), make([]VecVirtual, n), make([]VecVirtual, n)
	if clamp {
		each(func(i int, x VecVirtual) { VMINPS(x, a.kreg("hi32"), x) })
		each(func(i int, x VecVirtual) { VMAXPS(x, a.kreg("lo32"), x) })
	}
	each(func(i int, x VecVirtual) { ts[i] = a.vec(); VADDPS(a.k("magic2"), x, ts[i]) })     // K in the low bits
	each(func(i int, x VecVirtual) { ks[i] = a.vec(); VSUBPS(a.k("magic2"), ts[i], ks[i]) }) // K
	each(func(i int, x VecVirtual) { VSUBPS(ks[i], x, x) })                                  // f = x − K
	each(func(i int, x VecVirtual) { tb[i] = a.vec(); VMOVAPS(a.kreg("tab0"), tb[i]) })
	each(func(i int, x VecVirtual) { VPERMT2PS(a.kreg("tab1"), ts[i], tb[i]) }) // T = 2^((K mod 32)/32)
	each(func(i int, x VecVirtual) { qs[i] = a.vec(); VMOVAPS(a.kreg("q1"), qs[i]) })
	each(func(i int, x VecVirtual) { VFMADD231PS(a.k("q2"), x, qs[i]) }) // q = q1 + q2·f
	each(func(i int, x VecVirtual) { VMULPS(tb[i], x, x) })              // T·f
	each(func(i int, x VecVirtual) { VFMADD213PS(tb[i], qs[i], x) })     // T + T·f·q
	// K>>5 into the exponent field: t<<18 puts K's bits 5… at bit 23 (the
	// shifter's bits fall off the top) and its low 5 bits, masked off,
	// below.
	each(func(i int, x VecVirtual) { VPSLLD(U8(18), ts[i], ts[i]) })
	each(func(i int, x VecVirtual) { VPANDD(a.k("emask"), ts[i], ts[i]) })
	each(func(i int, x VecVirtual) { VPADDD(ts[i], x, x) })
	return xs
}

// expT is AVX-512's exp(x), once per (t, d) for softplus and sigmoid, by
// the same table: K = round(x·32·log2 e) in one FMA with the shifter, r =
// x − K·ln2/32 in two (Cody–Waite, ln2/32 split into float32 hi and lo),
// e^r ≈ 1 + r·(1 + r/2 + r²/6) for |r| ≤ ln2/64 (Taylor: 6e−10), times
// T[K mod 32] as in exp2T, K>>5 into the exponent field. Clamped to
// [−87.3, 88.3] like AVX2's exp (below e^−87.3 it returns 1.2·10⁻³⁸, above
// e^88.3 2.2·10³⁸); NaN passes. 7 FMA-pipe operations against expN's 10.
// x is clobbered; the result is in it.
func (a *isa) expT(x VecVirtual) VecVirtual {
	VMINPS(x, a.kreg("hiT"), x)
	VMAXPS(x, a.kreg("loT"), x)
	t := a.vec()
	VMOVUPS(a.k("magic2"), t)
	VFMADD231PS(a.k("log2e32"), x, t) // K in the low bits
	k := a.vec()
	VSUBPS(a.k("magic2"), t, k)
	VFNMADD231PS(a.k("ln2hi32"), k, x)
	VFNMADD231PS(a.k("ln2lo32"), k, x) // r
	T := a.vec()
	VMOVAPS(a.kreg("tab0"), T)
	VPERMT2PS(a.kreg("tab1"), t, T)
	q := a.vec()
	VMOVUPS(a.k("half"), q)
	VFMADD231PS(a.k("sixth"), x, q)
	VFMADD213PS(a.k("one"), x, q) // 1 + r/2 + r²/6
	VMULPS(T, x, x)
	VFMADD213PS(T, q, x)
	VPSLLD(U8(18), t, t)
	VPANDD(a.k("emask"), t, t)
	VPADDD(t, x, x)
	return x
}

// expN computes exp of each register of xs (clobbered) into new registers,
// instruction by instruction across xs so that the independent chains
// interleave.
func (a *isa) expN(xs []VecVirtual) []VecVirtual {
	each := func(f func(i int, x VecVirtual)) {
		for i, x := range xs {
			f(i, x)
		}
	}
	n := len(xs)
	ts, ks, ps := make([]VecVirtual, n), make([]VecVirtual, n), make([]VecVirtual, n)
	// Clamp (NaN passes: it is the second source in Intel order).
	each(func(i int, x VecVirtual) { VMINPS(x, a.kreg("hi"), x) })
	each(func(i int, x VecVirtual) { VMAXPS(x, a.kreg("lo"), x) })
	each(func(i int, x VecVirtual) { ts[i] = a.vec(); VMOVUPS(a.k("magic"), ts[i]) })
	each(func(i int, x VecVirtual) { VFMADD231PS(a.k("log2e"), x, ts[i]) })                 // t = x·log2e + magic
	each(func(i int, x VecVirtual) { ks[i] = a.vec(); VSUBPS(a.k("magic"), ts[i], ks[i]) }) // k = round(x·log2e)
	each(func(i int, x VecVirtual) { VFNMADD231PS(a.k("ln2hi"), ks[i], x) })
	each(func(i int, x VecVirtual) { VFNMADD231PS(a.k("ln2lo"), ks[i], x) }) // r = x − k·ln2
	each(func(i int, x VecVirtual) { ps[i] = a.vec(); VMOVUPS(a.k("c5"), ps[i]) })
	each(func(i int, x VecVirtual) { VFMADD231PS(a.k("c6"), x, ps[i]) })
	for c := 4; c >= 0; c-- {
		each(func(i int, x VecVirtual) { VFMADD213PS(a.k(fmt.Sprintf("c%d", c)), x, ps[i]) })
	}
	each(func(i int, x VecVirtual) {
		if a.z {
			VSCALEFPS(ks[i], ps[i], ps[i]) // p·2^k
		} else {
			VPSLLD(U8(23), ts[i], ts[i]) // 2^k from the biased k in t's low bits
			VMULPS(ts[i], ps[i], ps[i])
		}
	})
	return ps
}

// exp2N computes 2^x of each register of xs (clobbered) into new
// registers: the inner loops' Ā = exp(Δ·A) = 2^(Δ·A′) with A′ = A·log2 e
// precomputed. k = round(x), f = x − k exactly, 2^f by exp2Poly (≤ 1.97
// ulp), then k added to the exponent field. Inputs are
// clamped to [−125.4, 127.4], so results stay normal and finite. Against
// exp(Δ·A) the relative error is that of the product Δ·A′ (|Δ·A|·1.2e−7)
// plus about 1 ulp; the reference's own float32 argument Δ·A carries
// |Δ·A|·6e−8. Compared with exp it saves the FMA that forms k and the two
// of Cody–Waite, and the vscalefps: on the Zen 5 this was tuned on, 512-bit
// multiplies and FMAs issue one per cycle and bound these loops.
func (a *isa) exp2N(xs []VecVirtual) []VecVirtual {
	each := func(f func(i int, x VecVirtual)) {
		for i, x := range xs {
			f(i, x)
		}
	}
	n := len(xs)
	ts, ks, ps := make([]VecVirtual, n), make([]VecVirtual, n), make([]VecVirtual, n)
	each(func(i int, x VecVirtual) { VMINPS(x, a.kreg("hi2"), x) })
	each(func(i int, x VecVirtual) { VMAXPS(x, a.kreg("lo2"), x) })
	each(func(i int, x VecVirtual) { ts[i] = a.vec(); VADDPS(a.k("magic2"), x, ts[i]) })     // round(x) in the low bits
	each(func(i int, x VecVirtual) { ks[i] = a.vec(); VSUBPS(a.k("magic2"), ts[i], ks[i]) }) // k
	each(func(i int, x VecVirtual) { VSUBPS(ks[i], x, x) })                                  // f = x − k
	each(func(i int, x VecVirtual) { ps[i] = a.vec(); VMOVUPS(a.k("p4"), ps[i]) })
	each(func(i int, x VecVirtual) { VFMADD231PS(a.k("p5"), x, ps[i]) })
	for c := 3; c >= 0; c-- {
		each(func(i int, x VecVirtual) { VFMADD213PS(a.k(fmt.Sprintf("p%d", c)), x, ps[i]) })
	}
	// p·2^k by adding k to p's exponent field: t's low bits hold k in two's
	// complement, so t<<23 is k<<23 (the shifter's bits fall off the top).
	each(func(i int, x VecVirtual) { VPSLLD(U8(23), ts[i], ts[i]) })
	each(func(i int, x VecVirtual) { VPADDD(ts[i], ps[i], ps[i]) })
	return ps
}

// log1pPoly returns 1 + m1 q + … + m4 q⁴ (log1pPoly) in a new register.
func (a *isa) log1pPoly(q VecVirtual) VecVirtual {
	p := a.vec()
	VMOVUPS(a.mem("m3"), p)
	VFMADD231PS(a.mem("m4"), q, p)
	for _, c := range []string{"m2", "m1", "one"} {
		VFMADD213PS(a.mem(c), q, p)
	}
	return p
}

// softplus returns log(1+e^x) = max(x,0) + log1p(e^−|x|) in a new register;
// x is kept. Above 20 this is x exactly in float32, PyTorch's threshold.
func (a *isa) softplus(x VecVirtual) VecVirtual {
	nx := a.vec()
	VORPS(a.mem("sign"), x, nx) // −|x|
	e := a.exp(nx)
	den := a.vec()
	VADDPS(a.mem("two"), e, den)
	s := a.vec()
	VDIVPS(den, e, s) // s = e/(2+e)
	q := a.vec()
	VMULPS(s, s, q)
	p := a.log1pPoly(q)
	VADDPS(s, s, s)
	VMULPS(s, p, p) // log1p(e)
	m := a.vec()
	VXORPS(m, m, m)
	VMAXPS(x, m, m) // max(x, 0), NaN from x
	VADDPS(p, m, m)
	return m
}

// softplusSigmoid returns softplus(x) and σ(x) (its derivative) in new
// registers from one exp and one division; x is kept. With e = e^−|x|:
// r = 1/((1+e)(2+e)), e/(2+e) = e(1+e)·r feeds log1p as in softplus,
// σ(|x|) = 1/(1+e) = (2+e)·r, and σ(x) = σ(|x|)·(x < 0 ? e : 1).
func (a *isa) softplusSigmoid(x VecVirtual) (sp, sg VecVirtual) {
	nx := a.vec()
	VORPS(a.mem("sign"), x, nx) // −|x|
	e := a.exp(nx)
	d1, d2, r := a.vec(), a.vec(), a.vec()
	VADDPS(a.mem("one"), e, d1)
	VADDPS(a.mem("two"), e, d2)
	VMULPS(d1, d2, r)
	q := a.vec()
	VMOVUPS(a.mem("one"), q)
	VDIVPS(r, q, q)
	s := a.vec()
	VMULPS(d1, q, s)
	VMULPS(e, s, s)  // e/(2+e)
	VMULPS(d2, q, q) // σ(|x|)
	// m = x < 0 ? e : 1, by the sign of x.
	msk, m := a.vec(), a.vec()
	VPSRAD(U8(31), x, msk)
	VANDPS(msk, e, e)
	VANDNPS(a.mem("one"), msk, m)
	VORPS(e, m, m)
	VMULPS(m, q, q)
	sq := a.vec()
	VMULPS(s, s, sq)
	p := a.log1pPoly(sq)
	VADDPS(s, s, s)
	VMULPS(s, p, p) // log1p(e)
	z := a.vec()
	VXORPS(z, z, z)
	VMAXPS(x, z, z) // max(x, 0), NaN from x
	VADDPS(p, z, z)
	return z, q
}

// sigmoid returns 1/(1+e^−x) in a new register; x is kept.
func (a *isa) sigmoid(x VecVirtual) VecVirtual {
	nx := a.vec()
	VXORPS(a.mem("sign"), x, nx)
	e := a.exp(nx)
	VADDPS(a.mem("one"), e, e)
	r := a.vec()
	VMOVUPS(a.mem("one"), r)
	VDIVPS(e, r, r)
	return r
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

func m(base Register, disp int) Mem { return Mem{Base: base, Disp: disp} }
func mi(base, index Register) Mem   { return Mem{Base: base, Index: index, Scale: 1} }

// Forward argument block (scanFwdArgs in scan_amd64.go), 8 bytes a field.
const (
	fU = 8 * iota
	fDelta
	fZ
	fY
	fBm
	fCm
	fReset
	fBias
	fSkip
	fAt
	fH
	fPre
	fSteps
	fGroups
	fN
	fLdd
	fLdbn
	fAmax // AVX-512: (G, W), max over n of |A′[d, n]| per channel
)

// rows steps n in units of u at a time (u = 2, then 1 for an odd N): the
// independent chains of two n interleave.
func nLoop(name string, nmem Mem, ncnt Register, body func(u int)) {
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

func (a *isa) forward(v variant) {
	name := "scanFwd" + a.name + v.suffix()
	TEXT(name, NOSPLIT, "func(args *uint64)")
	Pragma("noescape")
	Doc(name + " runs args.steps time steps of the scan for args.groups groups of W channels; see scanFwdArgs.")
	A := Load(Param("args"), GP64())
	a.loadConsts()
	vb := a.vb()
	S, sB, sC := v.fwdSlots()
	steps := GP64()
	MOVQ(m(A, fSteps), steps)

	Label("t_loop")
	TESTQ(steps, steps)
	JZ(LabelRef("done"))
	// A reset at this step zeroes the state of every channel.
	rp := GP64()
	MOVQ(m(A, fReset), rp)
	TESTQ(rp, rp)
	JZ(LabelRef("noreset"))
	rb := GP32()
	MOVBLZX(m(rp, 0), rb)
	TESTL(rb, rb)
	JZ(LabelRef("noreset"))
	{
		hp, cnt := GP64(), GP64()
		MOVQ(m(A, fH), hp)
		MOVQ(m(A, fGroups), cnt)
		IMULQ(m(A, fN), cnt)
		zv := a.vec()
		VXORPS(zv, zv, zv)
		Label("zero_loop")
		VMOVUPS(zv, m(hp, 0))
		ADDQ(U32(vb), hp)
		DECQ(cnt)
		JNZ(LabelRef("zero_loop"))
	}
	Label("noreset")

	// Pass 1, independent across groups: pre[g] = Δ, Δ·u, silu(z).
	{
		off, pp, tmp, end := GP64(), GP64(), GP64(), GP64()
		XORQ(off, off)
		MOVQ(m(A, fPre), pp)
		MOVQ(m(A, fGroups), end)
		SHLQ(U8(log2(vb)), end)
		Label("pre_loop")
		X := a.vec()
		MOVQ(m(A, fDelta), tmp)
		VMOVUPS(mi(tmp, off), X)
		MOVQ(m(A, fBias), tmp)
		VADDPS(mi(tmp, off), X, X)
		DT := a.softplus(X)
		VMOVUPS(DT, m(pp, 0))
		MOVQ(m(A, fU), tmp)
		VMULPS(mi(tmp, off), DT, DT)
		VMOVUPS(DT, m(pp, vb))
		MOVQ(m(A, fZ), tmp)
		TESTQ(tmp, tmp)
		JZ(LabelRef("pre_nogate"))
		Zv := a.vec()
		VMOVUPS(mi(tmp, off), Zv)
		S := a.sigmoid(Zv)
		VMULPS(Zv, S, S)
		VMOVUPS(S, m(pp, 2*vb))
		Label("pre_nogate")
		ADDQ(U32(vb), off)
		ADDQ(U32(3*vb), pp)
		CMPQ(off, end)
		JL(LabelRef("pre_loop"))
	}

	// Pass 2: the recurrence, group by group.
	off, ph, pat, pp := GP64(), GP64(), GP64(), GP64()
	XORQ(off, off)
	MOVQ(m(A, fH), ph)
	MOVQ(m(A, fAt), pat)
	MOVQ(m(A, fPre), pp)
	Label("g_loop")
	{
		tmp := GP64()
		// Bring this group's rows of two steps later into the cache: the
		// hardware prefetchers alone leave the loads of pass 1 waiting on
		// memory (B·L·D rows stream from DRAM at the sizes).
		{
			ld := GP64()
			MOVQ(m(A, fLdd), ld)
			SHLQ(U8(1), ld)
			for _, f := range []int{fDelta, fU, fY, fZ} {
				MOVQ(m(A, f), tmp)
				if f == fZ { // no gate: no row (not a prefetch near address 0)
					TESTQ(tmp, tmp)
					JZ(LabelRef("pf_nogate"))
				}
				ADDQ(ld, tmp)
				PREFETCHT0(mi(tmp, off))
			}
			Label("pf_nogate")
		}
		DT, DTU := a.vec(), a.vec()
		VMOVUPS(m(pp, 0), DT)
		VMOVUPS(m(pp, vb), DTU)
		Ys := []VecVirtual{a.vec(), a.vec()}
		VXORPS(Ys[0], Ys[0], Ys[0])
		VXORPS(Ys[1], Ys[1], Ys[1])
		pbm, pcm, ncnt := GP64(), GP64(), GP64()
		if !v.pb {
			MOVQ(m(A, fBm), pbm)
		}
		if !v.pc {
			MOVQ(m(A, fCm), pcm)
		}
		body := func(clamp bool) func(u int) {
			return func(u int) {
				E := make([]VecVirtual, u)
				for k := range E {
					E[k] = a.vec()
					VMULPS(m(pat, k*S*vb), DT, E[k])
				}
				var P []VecVirtual
				if a.z {
					P = a.exp2T(E, clamp)
				} else {
					P = a.exp2N(E)
				}
				for k := range P {
					HB := a.vec()
					if v.pb {
						VMULPS(m(pat, (k*S+sB)*vb), DTU, HB)
					} else {
						a.bmul(m(pbm, 4*k), DTU, HB)
					}
					VFMADD231PS(m(ph, k*vb), P[k], HB) // h = Ā·h + Δ·B·u
					VMOVUPS(HB, m(ph, k*vb))
					if v.pc {
						VFMADD231PS(m(pat, (k*S+sC)*vb), HB, Ys[k])
					} else {
						a.bfma(m(pcm, 4*k), HB, Ys[k]) // y += C·h
					}
				}
				ADDQ(U32(u*vb), ph)
				ADDQ(U32(u*S*vb), pat)
				if !v.pb {
					ADDQ(U32(4*u), pbm)
				}
				if !v.pc {
					ADDQ(U32(4*u), pcm)
				}
			}
		}
		if a.z {
			// When Δ·max_n |A′[d, n]| ≤ 4012 in every lane, no Δ·A′ of the
			// group reaches exp2T's clamps, and the n loop runs without
			// them (two FADD-pipe operations fewer per n; the same
			// results). Otherwise, or with a NaN, the clamped loop.
			M, kk := a.vec(), K()
			MOVQ(m(A, fAmax), tmp)
			VMULPS(mi(tmp, off), DT, M)
			VCMPPS(U8(0x12), a.mem("bnd"), M, kk)
			KORTESTW(kk, kk)
			JCS(LabelRef("n_fast"))
			nLoop("n", m(A, fN), ncnt, body(true))
			JMP(LabelRef("n_end"))
			Label("n_fast")
			nLoop("nf", m(A, fN), ncnt, body(false))
			Label("n_end")
		} else {
			nLoop("n", m(A, fN), ncnt, body(true))
		}
		Y := Ys[0]
		VADDPS(Ys[1], Y, Y)
		Uv := a.vec()
		MOVQ(m(A, fU), tmp)
		VMOVUPS(mi(tmp, off), Uv)
		MOVQ(m(A, fSkip), tmp)
		VFMADD231PS(mi(tmp, off), Uv, Y) // y += D·u
		MOVQ(m(A, fZ), tmp)
		TESTQ(tmp, tmp)
		JZ(LabelRef("nogate"))
		VMULPS(m(pp, 2*vb), Y, Y) // y·silu(z)
		Label("nogate")
		MOVQ(m(A, fY), tmp)
		VMOVUPS(Y, mi(tmp, off))
		ADDQ(U32(vb), off)
		ADDQ(U32(3*vb), pp)
		MOVQ(m(A, fGroups), tmp)
		SHLQ(U8(log2(vb)), tmp)
		CMPQ(off, tmp)
		JL(LabelRef("g_loop"))
	}
	// Next time step.
	{
		ld, tmp := GP64(), GP64()
		MOVQ(m(A, fLdd), ld)
		ADDQ(ld, m(A, fU))
		ADDQ(ld, m(A, fDelta))
		ADDQ(ld, m(A, fY))
		MOVQ(m(A, fZ), tmp)
		TESTQ(tmp, tmp)
		JZ(LabelRef("nozadv"))
		ADDQ(ld, m(A, fZ))
		Label("nozadv")
		MOVQ(m(A, fReset), tmp)
		TESTQ(tmp, tmp)
		JZ(LabelRef("noradv"))
		INCQ(m(A, fReset))
		Label("noradv")
		MOVQ(m(A, fLdbn), tmp)
		if !v.pb {
			ADDQ(tmp, m(A, fBm))
		}
		if !v.pc {
			ADDQ(tmp, m(A, fCm))
		}
	}
	DECQ(steps)
	JMP(LabelRef("t_loop"))
	Label("done")
	VZEROUPPER()
	RET()
}

// Backward argument block (scanBwdArgs in scan_amd64.go).
const (
	bU = 8 * iota
	bDelta
	bZ
	bDY
	bDU
	bDDelta
	bDZ
	bBm
	bCm
	bReset
	bBias
	bSkip
	bGrp
	bH0
	bGacc
	bHsda
	bDts
	bPcb
	bZero
	bSteps
	bGroups
	bN
	bLdd
	bLdbn
	// scratch slots
	bOff
	bT
	bRo
	bGoff
)

// bcRows points pbm and pcm at the (B, L, N) rows of step t of the
// selective B and C (per-channel ones are in grp).
func (a *isa) bcRows(v variant, A, t, pbm, pcm Register) {
	if v.pb && v.pc {
		return
	}
	r := pbm
	if v.pb {
		r = pcm
	}
	MOVQ(t, r)
	IMULQ(m(A, bLdbn), r)
	if !v.pb && !v.pc {
		MOVQ(pbm, pcm)
	}
	if !v.pb {
		ADDQ(m(A, bBm), pbm)
	}
	if !v.pc {
		ADDQ(m(A, bCm), pcm)
	}
}

// bcAdvance steps the selective B and C row pointers by u values of n.
func (a *isa) bcAdvance(v variant, u int, pbm, pcm Register) {
	if !v.pb {
		ADDQ(U32(4*u), pbm)
	}
	if !v.pc {
		ADDQ(U32(4*u), pcm)
	}
}

// Per time step of the chunk, dts holds 4 vectors: Δ, σ(delta+bias) (the
// derivative of softplus), σ(z), and the ungated y.
const (
	dtsDT = iota
	dtsSD
	dtsSZ
	dtsY
	dtsN
)

func (a *isa) backward(v variant) {
	name := "scanBwd" + a.name + v.suffix()
	TEXT(name, NOSPLIT, "func(args *uint64)")
	Pragma("noescape")
	Doc(name + " runs the backward pass over one chunk of args.steps time steps for args.groups groups of W channels; see scanBwdArgs.")
	A := Load(Param("args"), GP64())
	a.loadConsts()
	vb := a.vb()
	S, sB, sDB, sC, sDC := v.bwdSlots()
	MOVQ(U32(0), m(A, bOff))
	MOVQ(U32(0), m(A, bGoff))

	Label("g_loop")
	// 1. hsda[0][n][0] = h0[n] (the saved state, rows ldd apart).
	{
		p1, p2, ncnt, tmp := GP64(), GP64(), GP64(), GP64()
		MOVQ(m(A, bH0), p1)
		ADDQ(m(A, bOff), p1)
		MOVQ(m(A, bHsda), p2)
		MOVQ(m(A, bN), ncnt)
		MOVQ(m(A, bLdd), tmp)
		Label("h0_loop")
		V := a.vec()
		VMOVUPS(m(p1, 0), V)
		VMOVUPS(V, m(p2, 0))
		ADDQ(tmp, p1)
		ADDQ(U32(2*vb), p2)
		DECQ(ncnt)
		JNZ(LabelRef("h0_loop"))
	}
	// 2. Per step, independent across steps: Δ, σ(delta+bias), σ(z).
	{
		t, ro, off, tmp, pd := GP64(), GP64(), GP64(), GP64(), GP64()
		XORQ(t, t)
		MOVQ(m(A, bOff), off)
		MOVQ(m(A, bDts), pd)
		Label("pre_t")
		MOVQ(t, ro)
		IMULQ(m(A, bLdd), ro)
		ADDQ(off, ro)
		// Bring the next group's rows into the cache while this one
		// computes (the rows of a group are 4D bytes apart).
		for _, f := range []int{bDelta, bZ, bU, bDY, bDU, bDDelta, bDZ} {
			MOVQ(m(A, f), tmp)
			PREFETCHT0(Mem{Base: tmp, Index: ro, Scale: 1, Disp: vb})
		}
		X := a.vec()
		MOVQ(m(A, bDelta), tmp)
		VMOVUPS(mi(tmp, ro), X)
		MOVQ(m(A, bBias), tmp)
		VADDPS(mi(tmp, off), X, X)
		DT, SD := a.softplusSigmoid(X)
		VMOVUPS(DT, m(pd, dtsDT*vb))
		VMOVUPS(SD, m(pd, dtsSD*vb))
		MOVQ(m(A, bZ), tmp)
		TESTQ(tmp, tmp)
		JZ(LabelRef("pre_nogate"))
		Zv := a.vec()
		VMOVUPS(mi(tmp, ro), Zv)
		SZ := a.sigmoid(Zv)
		VMOVUPS(SZ, m(pd, dtsSZ*vb))
		Label("pre_nogate")
		ADDQ(U32(dtsN*vb), pd)
		INCQ(t)
		CMPQ(t, m(A, bSteps))
		JL(LabelRef("pre_t"))
	}
	// 3. Recompute Ā, h and the ungated y over the chunk.
	MOVQ(U32(0), m(A, bT))
	Label("rc_t")
	{
		t, ro, off, tmp, pd := GP64(), GP64(), GP64(), GP64(), GP64()
		rs := GP64() // bytes per time row of hsda and pcb: N·2·vb
		MOVQ(m(A, bT), t)
		CMPQ(t, m(A, bSteps))
		JGE(LabelRef("rc_done"))
		MOVQ(m(A, bOff), off)
		MOVQ(t, ro)
		IMULQ(m(A, bLdd), ro)
		ADDQ(off, ro)
		MOVQ(t, pd)
		IMUL3Q(U32(dtsN*vb), pd, pd)
		ADDQ(m(A, bDts), pd)
		DT, DTU := a.vec(), a.vec()
		VMOVUPS(m(pd, dtsDT*vb), DT)
		MOVQ(m(A, bU), tmp)
		VMULPS(mi(tmp, ro), DT, DTU)
		Ys := []VecVirtual{a.vec(), a.vec()}
		VXORPS(Ys[0], Ys[0], Ys[0])
		VXORPS(Ys[1], Ys[1], Ys[1])
		prev, cur, pat, pbm, pcm, ncnt := GP64(), GP64(), GP64(), GP64(), GP64(), GP64()
		MOVQ(m(A, bN), rs)
		SHLQ(U8(log2(2*vb)), rs)
		MOVQ(t, prev)
		IMULQ(rs, prev)
		ADDQ(m(A, bHsda), prev)
		LEAQ(Mem{Base: prev, Index: rs, Scale: 1}, cur)
		MOVQ(m(A, bReset), tmp)
		TESTQ(tmp, tmp)
		JZ(LabelRef("rc_noreset"))
		rb := GP32()
		MOVBLZX(mi(tmp, t), rb)
		TESTL(rb, rb)
		JZ(LabelRef("rc_noreset"))
		MOVQ(m(A, bZero), prev)
		Label("rc_noreset")
		MOVQ(m(A, bGrp), pat)
		ADDQ(m(A, bGoff), pat)
		a.bcRows(v, A, t, pbm, pcm)
		nLoop("rc_n", m(A, bN), ncnt, func(u int) {
			E := make([]VecVirtual, u)
			for k := range E {
				E[k] = a.vec()
				VMULPS(m(pat, S*vb*k), DT, E[k])
			}
			P := a.exp2(E)
			for k := range P {
				VMOVUPS(P[k], m(cur, 2*vb*k+vb)) // Ā[t]
				HB := a.vec()
				if v.pb {
					VMULPS(m(pat, (S*k+sB)*vb), DTU, HB)
				} else {
					a.bmul(m(pbm, 4*k), DTU, HB)
				}
				VFMADD231PS(m(prev, 2*vb*k), P[k], HB)
				VMOVUPS(HB, m(cur, 2*vb*k)) // h[t]
				if v.pc {
					VFMADD231PS(m(pat, (S*k+sC)*vb), HB, Ys[k])
				} else {
					a.bfma(m(pcm, 4*k), HB, Ys[k])
				}
			}
			ADDQ(U32(2*vb*u), prev)
			ADDQ(U32(2*vb*u), cur)
			ADDQ(U32(S*vb*u), pat)
			a.bcAdvance(v, u, pbm, pcm)
		})
		VADDPS(Ys[1], Ys[0], Ys[0])
		MOVQ(m(A, bU), tmp)
		Uv := a.vec()
		VMOVUPS(mi(tmp, ro), Uv)
		MOVQ(m(A, bSkip), tmp)
		VFMADD231PS(mi(tmp, off), Uv, Ys[0])
		VMOVUPS(Ys[0], m(pd, dtsY*vb))
		INCQ(m(A, bT))
		JMP(LabelRef("rc_t"))
	}
	Label("rc_done")

	// 4. Adjoint recurrence, t from steps−1 down to 0.
	Label("bw_t")
	{
		t, ro, off, tmp, pd := GP64(), GP64(), GP64(), GP64(), GP64()
		rs := GP64()
		MOVQ(m(A, bT), t)
		TESTQ(t, t)
		JZ(LabelRef("bw_done"))
		DECQ(t)
		MOVQ(t, m(A, bT))
		MOVQ(m(A, bOff), off)
		MOVQ(t, ro)
		IMULQ(m(A, bLdd), ro)
		ADDQ(off, ro)
		MOVQ(ro, m(A, bRo))
		MOVQ(t, pd)
		IMUL3Q(U32(dtsN*vb), pd, pd)
		ADDQ(m(A, bDts), pd)
		GY, U, DT := a.vec(), a.vec(), a.vec()
		MOVQ(m(A, bDY), tmp)
		VMOVUPS(mi(tmp, ro), GY)
		MOVQ(m(A, bU), tmp)
		VMOVUPS(mi(tmp, ro), U)
		VMOVUPS(m(pd, dtsDT*vb), DT)
		// Gate: dz = gy·y·σ·(1 + z·(1−σ)), then gy·silu(z).
		MOVQ(m(A, bZ), tmp)
		TESTQ(tmp, tmp)
		JZ(LabelRef("bw_nogate"))
		{
			Zv, S := a.vec(), a.vec()
			VMOVUPS(mi(tmp, ro), Zv)
			VMOVUPS(m(pd, dtsSZ*vb), S)
			MOVQ(m(A, bDZ), tmp)
			TESTQ(tmp, tmp)
			JZ(LabelRef("bw_nodz"))
			{
				T1 := a.vec()
				VMOVUPS(a.mem("one"), T1)
				VSUBPS(S, T1, T1)
				VFMADD213PS(a.mem("one"), Zv, T1)
				VMULPS(S, T1, T1)
				VMULPS(m(pd, dtsY*vb), T1, T1)
				VMULPS(GY, T1, T1)
				VMOVUPS(T1, mi(tmp, ro))
			}
			Label("bw_nodz")
			VMULPS(Zv, S, S)
			VMULPS(S, GY, GY)
		}
		Label("bw_nogate")
		{
			p, V := GP64(), a.vec()
			MOVQ(m(A, bGacc), p)
			LEAQ(Mem{Base: p, Index: off, Scale: 2}, p)
			VMOVUPS(m(p, 0), V)
			VFMADD231PS(GY, U, V) // dD += gy·u
			VMOVUPS(V, m(p, 0))
		}
		DTU := a.vec()
		VMULPS(U, DT, DTU)
		S1s := []VecVirtual{a.vec(), a.vec()}
		DDTs := []VecVirtual{a.vec(), a.vec()}
		for _, r := range append(S1s, DDTs...) {
			VXORPS(r, r, r)
		}
		{
			cur, prev, pcb, pg, pbm, pcm, ncnt := GP64(), GP64(), GP64(), GP64(), GP64(), GP64(), GP64()
			MOVQ(m(A, bN), rs)
			SHLQ(U8(log2(2*vb)), rs)
			MOVQ(t, prev)
			IMULQ(rs, prev)
			MOVQ(prev, pcb)
			ADDQ(m(A, bPcb), pcb)
			ADDQ(m(A, bHsda), prev)
			LEAQ(Mem{Base: prev, Index: rs, Scale: 1}, cur)
			MOVQ(m(A, bReset), tmp)
			TESTQ(tmp, tmp)
			JZ(LabelRef("bw_noreset"))
			MOVBLZX(mi(tmp, t), ro.As32())
			TESTL(ro.As32(), ro.As32())
			JZ(LabelRef("bw_noreset"))
			MOVQ(m(A, bZero), prev)
			Label("bw_noreset")
			MOVQ(m(A, bGrp), pg)
			ADDQ(m(A, bGoff), pg)
			a.bcRows(v, A, t, pbm, pcm)
			nLoop("bw_n", m(A, bN), ncnt, func(u int) {
				for k := 0; k < u; k++ {
					H, PC, DHN, PB, X, DA, DAC := a.vec(), a.vec(), a.vec(), a.vec(), a.vec(), a.vec(), a.vec()
					c2, g3 := 2*vb*k, S*vb*k
					// dC: pc += gy·h[t], lane-wise across groups in pcb, or
					// per channel over the chunk in grp.
					dc, db := m(pcb, c2), m(pcb, c2+vb)
					if v.pc {
						dc = m(pg, g3+sDC*vb)
					}
					if v.pb {
						db = m(pg, g3+sDB*vb)
					}
					VMOVUPS(m(cur, c2), H)
					VMOVUPS(dc, PC)
					VFMADD231PS(H, GY, PC)
					VMOVUPS(PC, dc)
					// dh = dh + gy·C
					VMOVUPS(m(pg, g3+vb), DHN)
					if v.pc {
						VFMADD231PS(m(pg, g3+sC*vb), GY, DHN)
					} else {
						a.bfma(m(pcm, 4*k), GY, DHN)
					}
					// dB: pb += dh·Δu
					VMOVUPS(db, PB)
					VFMADD231PS(DHN, DTU, PB)
					VMOVUPS(PB, db)
					// S1 += dh·B (for du and dΔ)
					if v.pb {
						VFMADD231PS(m(pg, g3+sB*vb), DHN, S1s[k])
					} else {
						a.bfma(m(pbm, 4*k), DHN, S1s[k])
					}
					// x = dh·Ā·h[t−1]; dΔ += x·A; dA += x·Δ
					VMOVUPS(m(cur, c2+vb), DA)
					VMULPS(DA, DHN, X)
					VMULPS(m(prev, c2), X, X)
					VFMADD231PS(m(pg, g3), X, DDTs[k])
					VMOVUPS(m(pg, g3+2*vb), DAC)
					VFMADD231PS(X, DT, DAC)
					VMOVUPS(DAC, m(pg, g3+2*vb))
					// dh[t−1] = dh·Ā
					VMULPS(DA, DHN, DHN)
					VMOVUPS(DHN, m(pg, g3+vb))
				}
				ADDQ(U32(2*vb*u), cur)
				ADDQ(U32(2*vb*u), prev)
				if !v.pb || !v.pc {
					ADDQ(U32(2*vb*u), pcb)
				}
				ADDQ(U32(S*vb*u), pg)
				a.bcAdvance(v, u, pbm, pcm)
			})
		}
		S1, DDT := S1s[0], DDTs[0]
		VADDPS(S1s[1], S1, S1)
		VADDPS(DDTs[1], DDT, DDT)
		// A reset at t: no gradient flows to h[t−1].
		MOVQ(m(A, bReset), tmp)
		TESTQ(tmp, tmp)
		JZ(LabelRef("bw_noreset2"))
		MOVQ(m(A, bT), t)
		MOVBLZX(mi(tmp, t), ro.As32())
		TESTL(ro.As32(), ro.As32())
		JZ(LabelRef("bw_noreset2"))
		{
			pg, ncnt := GP64(), GP64()
			MOVQ(m(A, bGrp), pg)
			ADDQ(m(A, bGoff), pg)
			MOVQ(m(A, bN), ncnt)
			zv := a.vec()
			VXORPS(zv, zv, zv)
			Label("bw_zero")
			VMOVUPS(zv, m(pg, vb))
			ADDQ(U32(S*vb), pg)
			DECQ(ncnt)
			JNZ(LabelRef("bw_zero"))
		}
		Label("bw_noreset2")
		MOVQ(m(A, bRo), ro)
		MOVQ(m(A, bOff), off)
		// du = gy·D + Δ·S1
		MOVQ(m(A, bDU), tmp)
		TESTQ(tmp, tmp)
		JZ(LabelRef("bw_nodu"))
		{
			DU, SK := a.vec(), a.vec()
			MOVQ(m(A, bSkip), t)
			VMOVUPS(mi(t, off), SK)
			VMULPS(SK, GY, DU)
			VFMADD231PS(S1, DT, DU)
			VMOVUPS(DU, mi(tmp, ro))
		}
		Label("bw_nodu")
		// dΔraw = (u·S1 + ln2·Σ x·A′)·σ(delta + bias)
		if a.z {
			VMULPS(a.mem("ln2hi32"), DDT, DDT) // A′ carries the factor 32
		} else {
			VMULPS(a.mem("ln2hi"), DDT, DDT)
		}
		VFMADD231PS(S1, U, DDT)
		VMULPS(m(pd, dtsSD*vb), DDT, DDT)
		{
			p, V := GP64(), a.vec()
			MOVQ(m(A, bGacc), p)
			LEAQ(Mem{Base: p, Index: off, Scale: 2}, p)
			VMOVUPS(m(p, vb), V)
			VADDPS(DDT, V, V) // dbias += dΔraw
			VMOVUPS(V, m(p, vb))
		}
		MOVQ(m(A, bDDelta), tmp)
		TESTQ(tmp, tmp)
		JZ(LabelRef("bw_t"))
		VMOVUPS(DDT, mi(tmp, ro))
		JMP(LabelRef("bw_t"))
	}
	Label("bw_done")
	// Next group.
	{
		tmp := GP64()
		ADDQ(U32(vb), m(A, bOff))
		MOVQ(m(A, bN), tmp)
		IMUL3Q(U32(S*vb), tmp, tmp)
		ADDQ(tmp, m(A, bGoff))
		MOVQ(m(A, bGroups), tmp)
		SHLQ(U8(log2(vb)), tmp)
		CMPQ(tmp, m(A, bOff))
		JG(LabelRef("g_loop"))
	}
	VZEROUPPER()
	RET()
}

// expVec computes dst[i] = exp(src[i]) (exp2 = false) or 2^src[i] (the
// inner loops' exp2N) for n elements, n a multiple of W.
func (a *isa) expVec(exp2 bool) {
	name := "exp" + a.name
	if exp2 {
		name = "exp2" + a.name
	}
	TEXT(name, NOSPLIT, "func(dst, src *float32, n int)")
	Pragma("noescape")
	Doc(name + " sets dst[i] = exp(src[i]) (exp2: 2^src[i]) for i < n (n a multiple of the vector width), as the scan kernels compute it.")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	n := Load(Param("n"), GP64())
	a.loadConsts()
	TESTQ(n, n)
	JZ(LabelRef("done"))
	Label("loop")
	x := a.vec()
	VMOVUPS(m(src, 0), x)
	var p VecVirtual
	if exp2 {
		if a.z {
			VMULPS(a.mem("c32"), x, x) // exact
		}
		p = a.exp2([]VecVirtual{x})[0]
	} else {
		p = a.exp(x)
	}
	VMOVUPS(p, m(dst, 0))
	ADDQ(U32(a.vb()), src)
	ADDQ(U32(a.vb()), dst)
	SUBQ(U32(a.W), n)
	JNZ(LabelRef("loop"))
	Label("done")
	VZEROUPPER()
	RET()
}

// laneSum sets dst[r] = Σ_j src[r·W + j] for r < rows: the lanes of the
// backward kernel's dB, dC sums.
func (a *isa) laneSum() {
	TEXT("scanLaneSum"+a.name, NOSPLIT, "func(dst, src *float32, rows int)")
	Pragma("noescape")
	Doc("scanLaneSum" + a.name + " sets dst[r] to the sum of the W floats at src[r·W:] for r < rows.")
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

func main() {
	ConstraintExpr("!purego")
	for _, a := range []*isa{{name: "AVX512", W: 16, z: true}, {name: "AVX2", W: 8}} {
		a.tbl = GLOBL("scanconst"+a.name, RODATA|NOPTR)
		a.index = map[string]int{}
		for i, name := range constNames {
			a.index[name] = i
			for j := 0; j < a.W; j++ {
				DATA((i*a.W+j)*4, U32(a.constLane(name, j)))
			}
		}
		for _, v := range variants {
			a.forward(v)
			a.backward(v)
		}

		a.expVec(false)
		a.expVec(true)
		a.laneSum()
	}
	Generate()
}
