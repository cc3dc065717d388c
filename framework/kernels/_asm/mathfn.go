package main

import (
	"fmt"
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The vector math of the scan kernels: exp, 2^x, softplus and sigmoid,
// instruction by instruction, with the constants they read from the
// kernel's table (mathConst).

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

// log1pPoly (constants m1…m4): atanh(s)/s ≈ 1 + m1 q + … + m4 q⁴ with q = s² ∈ [0, 1/9]
// (softplus's log1p(e) = 2s·atanh(s)/s, s = e/(2+e) ≤ 1/3): minimax of the
// relative error (Remez), 5.4e−9 with the float32 coefficients. It replaces
// the degree-6 Taylor series (1.6e−8 truncation error), which the complex
// scan still uses (constants l1…l6).
var log1pPoly = [4]float32{0.333332092, 0.200107634, 0.140009031, 0.140059933}

// mathConst returns lane j of constant name of the functions here: the
// same in every lane except the table of 2^(j/32), lanes 0–15 in tab0 and
// 16–31 in tab1. A kernel's table lists the names it uses.
func (a *isa) mathConst(name string, j int) uint32 {
	f := func(x float32) uint32 { return math.Float32bits(x) }
	switch name {
	case "tab0":
		return f(float32(math.Exp2(float64(j%16) / 32)))
	case "tab1":
		return f(float32(math.Exp2(float64(16+j%16) / 32)))
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
	if name[0] == 'l' { // log1p(e) = 2·atanh(s) = 2s·(1 + q/3 + q²/5 + …), q = s²
		k := int(name[1] - '0')
		return f(float32(1 / float64(2*k+1)))
	}
	panic(name)
}

// exp returns exp(x) in a register; x is clobbered: expT or expN.
func (a *isa) exp(x VecVirtual) VecVirtual {
	if a.expTable {
		return a.expT(x)
	}
	return a.expN([]VecVirtual{x})[0]
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
	n := len(xs)
	ts, ks, tb, qs := make([]VecVirtual, n), make([]VecVirtual, n), make([]VecVirtual, n), make([]VecVirtual, n)
	if clamp {
		each(xs, func(i int, x VecVirtual) { VMINPS(x, a.kreg("hi32"), x) })
		each(xs, func(i int, x VecVirtual) { VMAXPS(x, a.kreg("lo32"), x) })
	}
	each(xs, func(i int, x VecVirtual) { ts[i] = a.vec(); VADDPS(a.k("magic2"), x, ts[i]) })     // K in the low bits
	each(xs, func(i int, x VecVirtual) { ks[i] = a.vec(); VSUBPS(a.k("magic2"), ts[i], ks[i]) }) // K
	each(xs, func(i int, x VecVirtual) { VSUBPS(ks[i], x, x) })                                  // f = x − K
	each(xs, func(i int, x VecVirtual) { tb[i] = a.vec(); VMOVAPS(a.kreg("tab0"), tb[i]) })
	each(xs, func(i int, x VecVirtual) { VPERMT2PS(a.kreg("tab1"), ts[i], tb[i]) }) // T = 2^((K mod 32)/32)
	each(xs, func(i int, x VecVirtual) { qs[i] = a.vec(); VMOVAPS(a.kreg("q1"), qs[i]) })
	each(xs, func(i int, x VecVirtual) { VFMADD231PS(a.k("q2"), x, qs[i]) }) // q = q1 + q2·f
	each(xs, func(i int, x VecVirtual) { VMULPS(tb[i], x, x) })              // T·f
	each(xs, func(i int, x VecVirtual) { VFMADD213PS(tb[i], qs[i], x) })     // T + T·f·q
	// K>>5 into the exponent field: t<<18 puts K's bits 5… at bit 23 (the
	// shifter's bits fall off the top) and its low 5 bits, masked off,
	// below.
	each(xs, func(i int, x VecVirtual) { VPSLLD(U8(18), ts[i], ts[i]) })
	each(xs, func(i int, x VecVirtual) { VPANDD(a.k("emask"), ts[i], ts[i]) })
	each(xs, func(i int, x VecVirtual) { VPADDD(ts[i], x, x) })
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
	n := len(xs)
	ts, ks, ps := make([]VecVirtual, n), make([]VecVirtual, n), make([]VecVirtual, n)
	// Clamp (NaN passes: it is the second source in Intel order).
	each(xs, func(i int, x VecVirtual) { VMINPS(x, a.kreg("hi"), x) })
	each(xs, func(i int, x VecVirtual) { VMAXPS(x, a.kreg("lo"), x) })
	each(xs, func(i int, x VecVirtual) { ts[i] = a.vec(); VMOVUPS(a.k("magic"), ts[i]) })
	each(xs, func(i int, x VecVirtual) { VFMADD231PS(a.k("log2e"), x, ts[i]) })                 // t = x·log2e + magic
	each(xs, func(i int, x VecVirtual) { ks[i] = a.vec(); VSUBPS(a.k("magic"), ts[i], ks[i]) }) // k = round(x·log2e)
	each(xs, func(i int, x VecVirtual) { VFNMADD231PS(a.k("ln2hi"), ks[i], x) })
	each(xs, func(i int, x VecVirtual) { VFNMADD231PS(a.k("ln2lo"), ks[i], x) }) // r = x − k·ln2
	each(xs, func(i int, x VecVirtual) { ps[i] = a.vec(); VMOVUPS(a.k("c5"), ps[i]) })
	each(xs, func(i int, x VecVirtual) { VFMADD231PS(a.k("c6"), x, ps[i]) })
	for c := 4; c >= 0; c-- {
		each(xs, func(i int, x VecVirtual) { VFMADD213PS(a.k(fmt.Sprintf("c%d", c)), x, ps[i]) })
	}
	each(xs, func(i int, x VecVirtual) {
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
	n := len(xs)
	ts, ks, ps := make([]VecVirtual, n), make([]VecVirtual, n), make([]VecVirtual, n)
	each(xs, func(i int, x VecVirtual) { VMINPS(x, a.kreg("hi2"), x) })
	each(xs, func(i int, x VecVirtual) { VMAXPS(x, a.kreg("lo2"), x) })
	each(xs, func(i int, x VecVirtual) { ts[i] = a.vec(); VADDPS(a.k("magic2"), x, ts[i]) })     // round(x) in the low bits
	each(xs, func(i int, x VecVirtual) { ks[i] = a.vec(); VSUBPS(a.k("magic2"), ts[i], ks[i]) }) // k
	each(xs, func(i int, x VecVirtual) { VSUBPS(ks[i], x, x) })                                  // f = x − k
	each(xs, func(i int, x VecVirtual) { ps[i] = a.vec(); VMOVUPS(a.k("p4"), ps[i]) })
	each(xs, func(i int, x VecVirtual) { VFMADD231PS(a.k("p5"), x, ps[i]) })
	for c := 3; c >= 0; c-- {
		each(xs, func(i int, x VecVirtual) { VFMADD213PS(a.k(fmt.Sprintf("p%d", c)), x, ps[i]) })
	}
	// p·2^k by adding k to p's exponent field: t's low bits hold k in two's
	// complement, so t<<23 is k<<23 (the shifter's bits fall off the top).
	each(xs, func(i int, x VecVirtual) { VPSLLD(U8(23), ts[i], ts[i]) })
	each(xs, func(i int, x VecVirtual) { VPADDD(ts[i], ps[i], ps[i]) })
	return ps
}

// log1pPoly returns 1 + a.log1p[0]·q + a.log1p[1]·q² + … in a new
// register.
func (a *isa) log1pPoly(q VecVirtual) VecVirtual {
	cs := append([]string{"one"}, a.log1p...)
	p := a.vec()
	VMOVUPS(a.mem(cs[len(cs)-2]), p)
	VFMADD231PS(a.mem(cs[len(cs)-1]), q, p)
	for i := len(cs) - 3; i >= 0; i-- {
		VFMADD213PS(a.mem(cs[i]), q, p)
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
