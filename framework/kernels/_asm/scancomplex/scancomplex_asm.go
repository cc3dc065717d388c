// Command scancomplex_asm generates ../../scan_complex_amd64.s: the complex
// (S4D-Lin) scan's forward and backward kernels for AVX-512 (16 channels
// per zmm register) and AVX2 with FMA (8 channels per ymm register), and
// the vector Ā = exp(Δ·A) = 2^(Δ·Ar·log2 e)·(cos(Δ·Ai), sin(Δ·Ai)) they
// use, exported for its error test.
//
//	cd framework/kernels/_asm/scancomplex && go run scancomplex_asm.go -out ../../scan_complex_amd64.s
//
// See scan_complex.go for the Go equivalent and scan_complex_amd64.go for
// the argument blocks and scratch layouts. This directory has its own
// go.mod so that the go tool ignores it when building mambakit.
//
// The structure follows the real kernels of _asm/scan: vectorization is
// across channels d (W consecutive channels of one time step are
// contiguous in U, Delta, Z, Y); time outer, channel groups inner; the
// state h of a group, N complex numbers of W lanes, lives in a (G, N, 2, W)
// buffer between steps. Each kernel is generated in eight variants (mode):
// B selective (broadcast from (B, L, N) rows) or per channel (a (D, N)
// table transposed into the per-(group, n) record), the same for C, and Ā
// computed per step from Δ (the selective scan) or read from the record
// (LTI: Δ constant over time per channel, so Ā is computed once by the
// caller).
package main

import (
	"fmt"
	"math"
	"math/big"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// exp(r) on [−ln2/2, ln2/2] (softplus and sigmoid), as in _asm/scan.
var expPoly = [7]float32{1, 1, 0.499999911, 0.166664198, 0.0416682251, 0.00837481581, 0.00138368458}

// 2^f on [−1/2, 1/2] with the constant term exactly 1 (≤ 1.97 ulp), as in
// _asm/scan: the decay factor |Ā| = 2^(Δ·Ar·log2 e).
var exp2Poly = [6]float32{1, 0.693146944, 0.24022238, 0.0555073433, 0.00967151206, 0.00132647075}

// sin r ≈ r + r·z·(s1 + s2 z + s3 z²) and cos r ≈ 1 + z·(−½ + z·(c1 + c2 z
// + c3 z²)), z = r², on [−π/4, π/4]: the minimax coefficients of Cephes'
// sinf and cosf (S. L. Moshier), whose float32 evaluation is within about
// 1 ulp there. The measured error of the whole vector sincos, range
// reduction included, is in scan_complex_test.go and docs/kernels.md.
var sinPoly = [3]float32{-1.6666654611e-1, 8.3321608736e-3, -1.9515295891e-4}
var cosPoly = [3]float32{4.166664568298827e-2, -1.388731625493765e-3, 2.443315711809948e-5}

// pio2 returns π/2 split into three float32 parts for Cody–Waite range
// reduction: hi + mid + lo = π/2 to about 72 bits.
func pio2() [3]float32 {
	pi, _, err := big.ParseFloat("3.14159265358979323846264338327950288419716939937510582097494459230781640628620899", 10, 300, big.ToNearestEven)
	if err != nil {
		panic(err)
	}
	x := new(big.Float).SetPrec(300).Quo(pi, big.NewFloat(2))
	var out [3]float32
	for i := range out {
		f, _ := x.Float32()
		out[i] = f
		x.Sub(x, new(big.Float).SetFloat64(float64(f)))
	}
	return out
}

// The per-(group, n) record of the kernels: R vectors of W lanes
// (cscanRec* in scan_complex_amd64.go must match).
const (
	rAr  = iota // Ar·log2 e
	rAi         // Ai
	rArR        // Ar (for dΔ)
	rBr         // per-channel B, real and imaginary
	rBi         //
	rCr         // per-channel C
	rCi         //
	rAbr        // LTI Ā
	rAbi        //
	rGhr        // backward: the adjoint state dh (in/out)
	rGhi        //
	rDAr        // backward: dA sums over the chunk
	rDAi        //
	rDBr        // backward: per-channel dB sums over the chunk
	rDBi        //
	rDCr        // backward: per-channel dC sums over the chunk
	rDCi        //
	rN          // record length
)

type mode struct{ perB, perC, lti bool }

func (md mode) index() int {
	i := 0
	if md.perB {
		i |= 1
	}
	if md.perC {
		i |= 2
	}
	if md.lti {
		i |= 4
	}
	return i
}

type isa struct {
	name  string
	W     int  // lanes
	z     bool // AVX-512
	tbl   Mem
	index map[string]int
	regs  map[string]VecVirtual
}

// constants, in table order. Each is stored W times.
var constNames = []string{"log2e", "magic", "ln2hi", "ln2lo", "c0", "c1", "c2", "c3", "c4", "c5", "c6",
	"hi", "lo", "one", "two", "sign", "l1", "l2", "l3", "l4", "l5", "l6",
	"hi2", "lo2", "magic2", "p0", "p1", "p2", "p3", "p4", "p5",
	"twoopi", "pio2a", "pio2b", "pio2c", "thmax", "thmin", "s1", "s2", "s3", "q1", "q2", "q3", "half"}

func (a *isa) constBits(name string) uint32 {
	f := func(x float32) uint32 { return math.Float32bits(x) }
	switch name {
	case "log2e":
		return f(float32(math.Log2E))
	case "magic":
		if a.z {
			return f(12582912)
		}
		return f(12582912 + 127)
	case "ln2hi":
		return f(float32(math.Ln2))
	case "ln2lo":
		return f(float32(math.Ln2 - float64(float32(math.Ln2))))
	case "hi":
		if a.z {
			return f(89)
		}
		return f(88.3)
	case "lo":
		if a.z {
			return f(-104)
		}
		return f(-87.3)
	case "magic2":
		return f(12582912)
	case "hi2":
		return f(127.4)
	case "lo2":
		return f(-125.4)
	case "one":
		return f(1)
	case "two":
		return f(2)
	case "half":
		return f(-0.5)
	case "sign":
		return 0x80000000
	case "twoopi":
		return f(float32(2 / math.Pi))
	case "pio2a":
		return f(pio2()[0])
	case "pio2b":
		return f(pio2()[1])
	case "pio2c":
		return f(pio2()[2])
	case "thmax":
		// |θ·2/π| < 2^22 keeps the rounding by magic2 exact; beyond
		// 4·10⁶ the phase is clamped (its float32 argument has lost
		// every bit of the fraction of a turn there anyway).
		return f(4e6)
	case "thmin":
		return f(-4e6)
	}
	switch name[0] {
	case 'c':
		return f(expPoly[name[1]-'0'])
	case 'p':
		return f(exp2Poly[name[1]-'0'])
	case 's':
		return f(sinPoly[name[1]-'1'])
	case 'q':
		return f(cosPoly[name[1]-'1'])
	case 'l': // log1p(e) = 2·atanh(s) = 2s·(1 + q/3 + q²/5 + …), q = s²
		k := int(name[1] - '0')
		return f(float32(1 / float64(2*k+1)))
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

// loadConsts puts constants of the inner loops in registers: with 32 zmm
// registers the clamps and rounding constant of 2^x when Ā is computed
// per step (more would leave two interleaved sincos chains without
// registers); the rest are memory operands.
func (a *isa) loadConsts(md mode) {
	a.regs = map[string]VecVirtual{}
	var names []string
	if a.z && !md.lti {
		names = []string{"hi2", "lo2", "magic2"}
	}
	for _, n := range names {
		r := a.vec()
		VMOVUPS(a.mem(n), r)
		a.regs[n] = r
	}
}

func each(xs []VecVirtual, f func(i int, x VecVirtual)) {
	for i, x := range xs {
		f(i, x)
	}
}

// exp returns exp(x) in a new register; x is clobbered (softplus, sigmoid).
func (a *isa) exp(x VecVirtual) VecVirtual {
	VMINPS(x, a.kreg("hi"), x)
	VMAXPS(x, a.kreg("lo"), x)
	t := a.vec()
	VMOVUPS(a.k("magic"), t)
	VFMADD231PS(a.k("log2e"), x, t)
	k := a.vec()
	VSUBPS(a.k("magic"), t, k)
	VFNMADD231PS(a.k("ln2hi"), k, x)
	VFNMADD231PS(a.k("ln2lo"), k, x)
	p := a.vec()
	VMOVUPS(a.k("c5"), p)
	VFMADD231PS(a.k("c6"), x, p)
	for c := 4; c >= 0; c-- {
		VFMADD213PS(a.k(fmt.Sprintf("c%d", c)), x, p)
	}
	if a.z {
		VSCALEFPS(k, p, p)
	} else {
		VPSLLD(U8(23), t, t)
		VMULPS(t, p, p)
	}
	return p
}

// exp2N computes 2^x of each register of xs (clobbered) into new
// registers, as _asm/scan's exp2N: k = round(x), f = x − k, 2^f by
// exp2Poly, k added to the exponent field; inputs clamped to
// [−125.4, 127.4].
func (a *isa) exp2N(xs []VecVirtual) []VecVirtual {
	n := len(xs)
	ts, ks, ps := make([]VecVirtual, n), make([]VecVirtual, n), make([]VecVirtual, n)
	each(xs, func(i int, x VecVirtual) { VMINPS(x, a.kreg("hi2"), x) })
	each(xs, func(i int, x VecVirtual) { VMAXPS(x, a.kreg("lo2"), x) })
	each(xs, func(i int, x VecVirtual) { ts[i] = a.vec(); VADDPS(a.k("magic2"), x, ts[i]) })
	each(xs, func(i int, x VecVirtual) { ks[i] = a.vec(); VSUBPS(a.k("magic2"), ts[i], ks[i]) })
	each(xs, func(i int, x VecVirtual) { VSUBPS(ks[i], x, x) })
	each(xs, func(i int, x VecVirtual) { ps[i] = a.vec(); VMOVUPS(a.k("p4"), ps[i]) })
	each(xs, func(i int, x VecVirtual) { VFMADD231PS(a.k("p5"), x, ps[i]) })
	for c := 3; c >= 0; c-- {
		each(xs, func(i int, x VecVirtual) { VFMADD213PS(a.k(fmt.Sprintf("p%d", c)), x, ps[i]) })
	}
	each(xs, func(i int, x VecVirtual) { VPSLLD(U8(23), ts[i], ts[i]) })
	each(xs, func(i int, x VecVirtual) { VPADDD(ts[i], ps[i], ps[i]) })
	return ps
}

// cisN computes Ā = 2^es[i]·(cos θs[i], sin θs[i]) for each i (es and θs
// clobbered) into new registers (re, im), interleaved across i.
//
// sincos: Cody–Waite reduction θ = k·π/2 + r with k = round(θ·2/π) (by
// adding 1.5·2^23, which leaves k in the low mantissa bits of t) and
// r = θ − k·hi − k·mid − k·lo by FMAs (the first one exact: θ and k·hi are
// multiples of the same power of two near each other), |r| ≲ π/4; then the
// sinf/cosf polynomials S(r), C(r). Quadrant: sin θ = (S, C, −S, −C) and
// cos θ = (C, −S, −C, S) for k mod 4 = 0…3: bit 0 of k swaps S and C, bit 1
// of k flips the sign of sin, bit 1 of k+1 (= bit 1 ⊕ bit 0) that of cos.
// The signs are folded into the factor 2^e.
func (a *isa) cisN(es, ths []VecVirtual) (re, im []VecVirtual) {
	n := len(es)
	ex := a.exp2N(es)
	ts, ks, zs, ss, cs := make([]VecVirtual, n), make([]VecVirtual, n), make([]VecVirtual, n), make([]VecVirtual, n), make([]VecVirtual, n)
	re, im = make([]VecVirtual, n), make([]VecVirtual, n)
	each(ths, func(i int, x VecVirtual) { VMINPS(x, a.kreg("thmax"), x) })
	each(ths, func(i int, x VecVirtual) { VMAXPS(x, a.kreg("thmin"), x) })
	each(ths, func(i int, x VecVirtual) { ts[i] = a.vec(); VMOVUPS(a.k("magic2"), ts[i]) })
	each(ths, func(i int, x VecVirtual) { VFMADD231PS(a.k("twoopi"), x, ts[i]) })
	each(ths, func(i int, x VecVirtual) { ks[i] = a.vec(); VSUBPS(a.k("magic2"), ts[i], ks[i]) })
	for _, c := range []string{"pio2a", "pio2b", "pio2c"} {
		each(ths, func(i int, x VecVirtual) { VFNMADD231PS(a.k(c), ks[i], x) }) // r
	}
	each(ths, func(i int, x VecVirtual) { zs[i] = a.vec(); VMULPS(x, x, zs[i]) })
	// sin: r + r·z·(s1 + z·(s2 + z·s3))
	each(ths, func(i int, x VecVirtual) { ss[i] = a.vec(); VMOVUPS(a.k("s2"), ss[i]) })
	each(ths, func(i int, x VecVirtual) { VFMADD231PS(a.k("s3"), zs[i], ss[i]) })
	each(ths, func(i int, x VecVirtual) { VFMADD213PS(a.k("s1"), zs[i], ss[i]) })
	each(ths, func(i int, x VecVirtual) { VMULPS(zs[i], ss[i], ss[i]) })
	each(ths, func(i int, x VecVirtual) { VFMADD213PS(x, x, ss[i]) })
	// cos: 1 + z·(−½ + z·(c1 + z·(c2 + z·c3)))
	each(ths, func(i int, x VecVirtual) { cs[i] = a.vec(); VMOVUPS(a.k("q2"), cs[i]) })
	each(ths, func(i int, x VecVirtual) { VFMADD231PS(a.k("q3"), zs[i], cs[i]) })
	each(ths, func(i int, x VecVirtual) { VFMADD213PS(a.k("q1"), zs[i], cs[i]) })
	each(ths, func(i int, x VecVirtual) { VFMADD213PS(a.k("half"), zs[i], cs[i]) })
	each(ths, func(i int, x VecVirtual) { VFMADD213PS(a.k("one"), zs[i], cs[i]) })
	// Quadrant bits of k, from t: b0 = bit 0 at the sign, b1 = bit 1 at
	// the sign (ks and zs are reused).
	each(ths, func(i int, x VecVirtual) { VPSLLD(U8(31), ts[i], ks[i]) })
	each(ths, func(i int, x VecVirtual) { VPSLLD(U8(30), ts[i], ts[i]) })
	each(ths, func(i int, x VecVirtual) { VANDPS(a.k("sign"), ts[i], ts[i]) }) // sign of sin
	each(ths, func(i int, x VecVirtual) { VXORPS(ts[i], ks[i], zs[i]) })       // sign of cos
	each(ths, func(i int, x VecVirtual) {
		re[i], im[i] = a.vec(), a.vec()
		if a.z {
			m := K()
			VPMOVD2M(ks[i], m)
			VBLENDMPS(cs[i], ss[i], m, im[i]) // odd k: C
			VBLENDMPS(ss[i], cs[i], m, re[i]) // odd k: S
		} else {
			VBLENDVPS(ks[i], cs[i], ss[i], im[i])
			VBLENDVPS(ks[i], ss[i], cs[i], re[i])
		}
	})
	each(ths, func(i int, x VecVirtual) { VXORPS(ex[i], ts[i], ts[i]) }) // ±2^e for sin
	each(ths, func(i int, x VecVirtual) { VXORPS(ex[i], zs[i], zs[i]) }) // ±2^e for cos
	each(ths, func(i int, x VecVirtual) { VMULPS(ts[i], im[i], im[i]) })
	each(ths, func(i int, x VecVirtual) { VMULPS(zs[i], re[i], re[i]) })
	return re, im
}

// softplus returns log(1+e^x) in a new register; x is kept (see _asm/scan).
func (a *isa) softplus(x VecVirtual) VecVirtual {
	nx := a.vec()
	VORPS(a.mem("sign"), x, nx)
	e := a.exp(nx)
	den := a.vec()
	VADDPS(a.mem("two"), e, den)
	s := a.vec()
	VDIVPS(den, e, s)
	q := a.vec()
	VMULPS(s, s, q)
	p := a.vec()
	VMOVUPS(a.mem("l5"), p)
	VFMADD231PS(a.mem("l6"), q, p)
	for _, c := range []string{"l4", "l3", "l2", "l1", "one"} {
		VFMADD213PS(a.mem(c), q, p)
	}
	VADDPS(s, s, s)
	VMULPS(s, p, p)
	m := a.vec()
	VXORPS(m, m, m)
	VMAXPS(x, m, m)
	VADDPS(p, m, m)
	return m
}

// softplusSigmoid returns softplus(x) and σ(x) in new registers; x is kept.
func (a *isa) softplusSigmoid(x VecVirtual) (sp, sg VecVirtual) {
	nx := a.vec()
	VORPS(a.mem("sign"), x, nx)
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
	VMULPS(e, s, s)
	VMULPS(d2, q, q)
	msk, m := a.vec(), a.vec()
	VPSRAD(U8(31), x, msk)
	VANDPS(msk, e, e)
	VANDNPS(a.mem("one"), msk, m)
	VORPS(e, m, m)
	VMULPS(m, q, q)
	sq := a.vec()
	VMULPS(s, s, sq)
	p := a.vec()
	VMOVUPS(a.mem("l5"), p)
	VFMADD231PS(a.mem("l6"), sq, p)
	for _, c := range []string{"l4", "l3", "l2", "l1", "one"} {
		VFMADD213PS(a.mem(c), sq, p)
	}
	VADDPS(s, s, s)
	VMULPS(s, p, p)
	z := a.vec()
	VXORPS(z, z, z)
	VMAXPS(x, z, z)
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

// bmul sets dst = broadcast(*mem)·src.
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

// Forward argument block (cscanFwdArgs in scan_complex_amd64.go).
const (
	fU = 8 * iota
	fDelta
	fZ
	fY
	fBm
	fBi
	fCm
	fCi
	fReset
	fBias
	fSkip
	fRec
	fH
	fPre
	fSteps
	fGroups
	fN
	fLdd
	fLdbn
)

// nLoop steps n two at a time (then one for an odd N) so that the
// independent chains of two n interleave.
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

// abar returns Ā of the u records at rec (stride R·vb) for the step's Δ.
func (a *isa) abar(md mode, rec Register, DT VecVirtual, u int) (re, im []VecVirtual) {
	rb := rN * a.vb()
	if md.lti {
		re, im = make([]VecVirtual, u), make([]VecVirtual, u)
		for k := range re {
			re[k], im[k] = a.vec(), a.vec()
			VMOVUPS(m(rec, k*rb+rAbr*a.vb()), re[k])
			VMOVUPS(m(rec, k*rb+rAbi*a.vb()), im[k])
		}
		return re, im
	}
	es, ths := make([]VecVirtual, u), make([]VecVirtual, u)
	for k := range es {
		es[k], ths[k] = a.vec(), a.vec()
		VMULPS(m(rec, k*rb+rAr*a.vb()), DT, es[k])
		VMULPS(m(rec, k*rb+rAi*a.vb()), DT, ths[k])
	}
	return a.cisN(es, ths)
}

func (a *isa) unroll(md mode) int {
	if a.z || md.lti {
		return 2
	}
	return 1
}

func (a *isa) forward(md mode) {
	name := fmt.Sprintf("cscanFwd%s%d", a.name, md.index())
	TEXT(name, NOSPLIT, "func(args *uint64)")
	Pragma("noescape")
	Doc(name + " runs args.steps time steps of the complex scan for args.groups groups of W channels; see cscanFwdArgs.")
	A := Load(Param("args"), GP64())
	a.loadConsts(md)
	vb := a.vb()
	rb := rN * vb
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
	rbt := GP32()
	MOVBLZX(m(rp, 0), rbt)
	TESTL(rbt, rbt)
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
		VMOVUPS(zv, m(hp, vb))
		ADDQ(U32(2*vb), hp)
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
		var DT VecVirtual
		if md.lti {
			// Δ per channel, from the caller (in the bias slot).
			DT = a.vec()
			MOVQ(m(A, fBias), tmp)
			VMOVUPS(mi(tmp, off), DT)
		} else {
			X := a.vec()
			MOVQ(m(A, fDelta), tmp)
			VMOVUPS(mi(tmp, off), X)
			MOVQ(m(A, fBias), tmp)
			VADDPS(mi(tmp, off), X, X)
			DT = a.softplus(X)
		}
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
	off, ph, prec, pp := GP64(), GP64(), GP64(), GP64()
	XORQ(off, off)
	MOVQ(m(A, fH), ph)
	MOVQ(m(A, fRec), prec)
	MOVQ(m(A, fPre), pp)
	Label("g_loop")
	{
		tmp := GP64()
		DT, X := a.vec(), a.vec()
		VMOVUPS(m(pp, 0), DT)
		VMOVUPS(m(pp, vb), X)
		Yr := []VecVirtual{a.vec(), a.vec()}
		Yi := []VecVirtual{a.vec(), a.vec()}
		for _, r := range append(Yr, Yi...) {
			VXORPS(r, r, r)
		}
		pbm, pbi, pcm, pci, ncnt := GP64(), GP64(), GP64(), GP64(), GP64()
		if !md.perB {
			MOVQ(m(A, fBm), pbm)
			MOVQ(m(A, fBi), pbi)
		}
		if !md.perC {
			MOVQ(m(A, fCm), pcm)
			MOVQ(m(A, fCi), pci)
		}
		nLoop("n", m(A, fN), ncnt, a.unroll(md), func(u int) {
			AR, AI := a.abar(md, prec, DT, u)
			for k := 0; k < u; k++ {
				HR, HI, NR, NI := a.vec(), a.vec(), a.vec(), a.vec()
				VMOVUPS(m(ph, 2*vb*k), HR)
				VMOVUPS(m(ph, 2*vb*k+vb), HI)
				if md.perB {
					VMULPS(m(prec, k*rb+rBr*vb), X, NR)
					VMULPS(m(prec, k*rb+rBi*vb), X, NI)
				} else {
					a.bmul(m(pbm, 4*k), X, NR)
					a.bmul(m(pbi, 4*k), X, NI)
				}
				VFMADD231PS(AR[k], HR, NR)
				VFNMADD231PS(AI[k], HI, NR) // Re: ar·hr − ai·hi + x·br
				VFMADD231PS(AR[k], HI, NI)
				VFMADD231PS(AI[k], HR, NI) // Im: ar·hi + ai·hr + x·bi
				VMOVUPS(NR, m(ph, 2*vb*k))
				VMOVUPS(NI, m(ph, 2*vb*k+vb))
				if md.perC {
					VFMADD231PS(m(prec, k*rb+rCr*vb), NR, Yr[k])
					VFMADD231PS(m(prec, k*rb+rCi*vb), NI, Yi[k])
				} else {
					a.bfma(m(pcm, 4*k), NR, Yr[k])
					a.bfma(m(pci, 4*k), NI, Yi[k])
				}
			}
			ADDQ(U32(u*2*vb), ph)
			ADDQ(U32(u*rb), prec)
			if !md.perB {
				ADDQ(U32(4*u), pbm)
				ADDQ(U32(4*u), pbi)
			}
			if !md.perC {
				ADDQ(U32(4*u), pcm)
				ADDQ(U32(4*u), pci)
			}
		})
		// y = 2·Σ (cr·hr − ci·hi) + D·u
		Y := Yr[0]
		VADDPS(Yr[1], Y, Y)
		VADDPS(Yi[1], Yi[0], Yi[0])
		VSUBPS(Yi[0], Y, Y)
		VADDPS(Y, Y, Y)
		Uv := a.vec()
		MOVQ(m(A, fU), tmp)
		VMOVUPS(mi(tmp, off), Uv)
		MOVQ(m(A, fSkip), tmp)
		VFMADD231PS(mi(tmp, off), Uv, Y)
		MOVQ(m(A, fZ), tmp)
		TESTQ(tmp, tmp)
		JZ(LabelRef("nogate"))
		VMULPS(m(pp, 2*vb), Y, Y)
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
		ADDQ(tmp, m(A, fBm))
		ADDQ(tmp, m(A, fBi))
		ADDQ(tmp, m(A, fCm))
		ADDQ(tmp, m(A, fCi))
	}
	DECQ(steps)
	JMP(LabelRef("t_loop"))
	Label("done")
	VZEROUPPER()
	RET()
}

// Backward argument block (cscanBwdArgs in scan_complex_amd64.go).
const (
	bU = 8 * iota
	bDelta
	bZ
	bDY
	bDU
	bDDelta
	bDZ
	bBm
	bBi
	bCm
	bCi
	bReset
	bBias
	bSkip
	bRec
	bH0
	bGacc
	bHs
	bDts
	bPcb
	bZero
	bSteps
	bGroups
	bN
	bLdd
	bLdbn
	bLsd // LTI: σ(delta + bias) per channel (bias then holds Δ)
	// scratch slots
	bOff
	bT
	bRo
	bGoff
)

// Per time step of the chunk, dts holds 4 vectors: Δ, σ(delta+bias), σ(z),
// and the ungated y.
const (
	dtsDT = iota
	dtsSD
	dtsSZ
	dtsY
	dtsN
)

// hs rows (K+1, N, S, W): h[t] (real, imaginary), P[t] = Ā[t]·h[t−1] (0
// at a reset) and, unless LTI, Ā[t] (S = 6; 4 for LTI, whose Ā is in the
// record), all in the row of h[t]. The adjoint needs Ā·h[t−1] rather than
// h[t−1]: gA = conj(Ā)·g·conj(h[t−1]) = g·conj(P), which saves four
// multiplies a state. pcb (K, N, 4, W): per lane sums over groups of dB
// real, dB imaginary, dC real, dC imaginary of a selective B and C.
const (
	sH = 0 // h real, imaginary
	sP = 2 // P real, imaginary
	sA = 4 // Ā real, imaginary (not LTI)
)

func slots(md mode) int {
	if md.lti {
		return 4
	}
	return 6
}

func (a *isa) backward(md mode) {
	name := fmt.Sprintf("cscanBwd%s%d", a.name, md.index())
	TEXT(name, NOSPLIT, "func(args *uint64)")
	Pragma("noescape")
	Doc(name + " runs the complex scan's backward pass over one chunk of args.steps time steps for args.groups groups of W channels; see cscanBwdArgs.")
	A := Load(Param("args"), GP64())
	a.loadConsts(md)
	vb := a.vb()
	rb := rN * vb
	sb := slots(md) * vb // bytes per (t, n) of hs
	MOVQ(U32(0), m(A, bOff))
	MOVQ(U32(0), m(A, bGoff))

	Label("g_loop")
	// 1. hs[0][n] = h0 of the group (G, N, 2, W).
	{
		p1, p2, ncnt := GP64(), GP64(), GP64()
		// The group's h0 is at g·N·2·vb = off·N·2.
		MOVQ(m(A, bOff), p2)
		IMULQ(m(A, bN), p2)
		MOVQ(m(A, bH0), p1)
		LEAQ(Mem{Base: p1, Index: p2, Scale: 2}, p1)
		MOVQ(m(A, bHs), p2)
		MOVQ(m(A, bN), ncnt)
		Label("h0_loop")
		V := a.vec()
		VMOVUPS(m(p1, 0), V)
		VMOVUPS(V, m(p2, 0))
		VMOVUPS(m(p1, vb), V)
		VMOVUPS(V, m(p2, vb))
		ADDQ(U32(2*vb), p1)
		ADDQ(U32(sb), p2)
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
		for _, f := range []int{bDelta, bZ, bU, bDY, bDU, bDDelta, bDZ} {
			MOVQ(m(A, f), tmp)
			PREFETCHT0(Mem{Base: tmp, Index: ro, Scale: 1, Disp: vb})
		}
		var DT, SD VecVirtual
		if md.lti {
			// Δ and σ(delta+bias) per channel, from the caller (in the
			// bias and lsd slots).
			DT, SD = a.vec(), a.vec()
			MOVQ(m(A, bBias), tmp)
			VMOVUPS(mi(tmp, off), DT)
			MOVQ(m(A, bLsd), tmp)
			VMOVUPS(mi(tmp, off), SD)
		} else {
			X := a.vec()
			MOVQ(m(A, bDelta), tmp)
			VMOVUPS(mi(tmp, ro), X)
			MOVQ(m(A, bBias), tmp)
			VADDPS(mi(tmp, off), X, X)
			DT, SD = a.softplusSigmoid(X)
		}
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
		rs := GP64() // bytes per time row of hs and pcb: N·4·vb
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
		DT, X := a.vec(), a.vec()
		VMOVUPS(m(pd, dtsDT*vb), DT)
		MOVQ(m(A, bU), tmp)
		VMULPS(mi(tmp, ro), DT, X)
		Yr := []VecVirtual{a.vec(), a.vec()}
		Yi := []VecVirtual{a.vec(), a.vec()}
		for _, r := range append(Yr, Yi...) {
			VXORPS(r, r, r)
		}
		prev, cur, prec, pbm, pbi, pcm, pci, ncnt := GP64(), GP64(), GP64(), GP64(), GP64(), GP64(), GP64(), GP64()
		MOVQ(m(A, bN), rs)
		IMUL3Q(U32(sb), rs, rs)
		MOVQ(t, prev)
		IMULQ(rs, prev)
		ADDQ(m(A, bHs), prev)
		LEAQ(Mem{Base: prev, Index: rs, Scale: 1}, cur)
		MOVQ(m(A, bReset), tmp)
		TESTQ(tmp, tmp)
		JZ(LabelRef("rc_noreset"))
		rbt := GP32()
		MOVBLZX(mi(tmp, t), rbt)
		TESTL(rbt, rbt)
		JZ(LabelRef("rc_noreset"))
		MOVQ(m(A, bZero), prev)
		Label("rc_noreset")
		MOVQ(m(A, bRec), prec)
		ADDQ(m(A, bGoff), prec)
		MOVQ(t, tmp)
		IMULQ(m(A, bLdbn), tmp)
		if !md.perB {
			MOVQ(m(A, bBm), pbm)
			ADDQ(tmp, pbm)
			MOVQ(m(A, bBi), pbi)
			ADDQ(tmp, pbi)
		}
		if !md.perC {
			MOVQ(m(A, bCm), pcm)
			ADDQ(tmp, pcm)
			MOVQ(m(A, bCi), pci)
			ADDQ(tmp, pci)
		}
		nLoop("rc_n", m(A, bN), ncnt, a.unroll(md), func(u int) {
			AR, AI := a.abar(md, prec, DT, u)
			for k := 0; k < u; k++ {
				c4 := sb * k
				if !md.lti {
					VMOVUPS(AR[k], m(cur, c4+sA*vb))
					VMOVUPS(AI[k], m(cur, c4+(sA+1)*vb))
				}
				HR, HI, NR, NI := a.vec(), a.vec(), a.vec(), a.vec()
				VMOVUPS(m(prev, c4), HR)
				VMOVUPS(m(prev, c4+vb), HI)
				// P = Ā·h[t−1], then h[t] = P + x·B
				VMULPS(AR[k], HR, NR)
				VFNMADD231PS(AI[k], HI, NR)
				VMULPS(AR[k], HI, NI)
				VFMADD231PS(AI[k], HR, NI)
				VMOVUPS(NR, m(cur, c4+sP*vb))
				VMOVUPS(NI, m(cur, c4+(sP+1)*vb))
				if md.perB {
					VFMADD231PS(m(prec, k*rb+rBr*vb), X, NR)
					VFMADD231PS(m(prec, k*rb+rBi*vb), X, NI)
				} else {
					a.bfma(m(pbm, 4*k), X, NR)
					a.bfma(m(pbi, 4*k), X, NI)
				}
				VMOVUPS(NR, m(cur, c4))
				VMOVUPS(NI, m(cur, c4+vb))
				if md.perC {
					VFMADD231PS(m(prec, k*rb+rCr*vb), NR, Yr[k])
					VFMADD231PS(m(prec, k*rb+rCi*vb), NI, Yi[k])
				} else {
					a.bfma(m(pcm, 4*k), NR, Yr[k])
					a.bfma(m(pci, 4*k), NI, Yi[k])
				}
			}
			ADDQ(U32(sb*u), prev)
			ADDQ(U32(sb*u), cur)
			ADDQ(U32(rb*u), prec)
			if !md.perB {
				ADDQ(U32(4*u), pbm)
				ADDQ(U32(4*u), pbi)
			}
			if !md.perC {
				ADDQ(U32(4*u), pcm)
				ADDQ(U32(4*u), pci)
			}
		})
		VADDPS(Yr[1], Yr[0], Yr[0])
		VADDPS(Yi[1], Yi[0], Yi[0])
		VSUBPS(Yi[0], Yr[0], Yr[0])
		VADDPS(Yr[0], Yr[0], Yr[0])
		MOVQ(m(A, bU), tmp)
		Uv := a.vec()
		VMOVUPS(mi(tmp, ro), Uv)
		MOVQ(m(A, bSkip), tmp)
		VFMADD231PS(mi(tmp, off), Uv, Yr[0])
		VMOVUPS(Yr[0], m(pd, dtsY*vb))
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
		X, G2 := a.vec(), a.vec()
		VMULPS(U, DT, X)
		VADDPS(GY, GY, G2)
		S1s := []VecVirtual{a.vec(), a.vec()}
		DDTs := []VecVirtual{a.vec(), a.vec()}
		for _, r := range append(S1s, DDTs...) {
			VXORPS(r, r, r)
		}
		{
			cur, pcb, prec, pbm, pbi, pcm, pci, ncnt := GP64(), GP64(), GP64(), GP64(), GP64(), GP64(), GP64(), GP64()
			// cur = hs row t+1 (h[t], P[t], Ā[t]); pcb row t.
			MOVQ(m(A, bN), rs)
			SHLQ(U8(log2(4*vb)), rs)
			MOVQ(t, pcb)
			IMULQ(rs, pcb)
			ADDQ(m(A, bPcb), pcb)
			MOVQ(m(A, bN), rs)
			IMUL3Q(U32(sb), rs, rs)
			LEAQ(Mem{Base: t, Disp: 1}, cur)
			IMULQ(rs, cur)
			ADDQ(m(A, bHs), cur)
			MOVQ(m(A, bRec), prec)
			ADDQ(m(A, bGoff), prec)
			MOVQ(t, tmp)
			IMULQ(m(A, bLdbn), tmp)
			if !md.perB {
				MOVQ(m(A, bBm), pbm)
				ADDQ(tmp, pbm)
				MOVQ(m(A, bBi), pbi)
				ADDQ(tmp, pbi)
			}
			if !md.perC {
				MOVQ(m(A, bCm), pcm)
				ADDQ(tmp, pcm)
				MOVQ(m(A, bCi), pci)
				ADDQ(tmp, pci)
			}
			nLoop("bw_n", m(A, bN), ncnt, a.unroll(md), func(u int) {
				for k := 0; k < u; k++ {
					c4, p4, r0 := sb*k, 4*vb*k, rb*k
					f := func(field int) Mem { return m(prec, r0+field*vb) }
					AR, AI := a.vec(), a.vec()
					if md.lti {
						VMOVUPS(f(rAbr), AR)
						VMOVUPS(f(rAbi), AI)
					} else {
						VMOVUPS(m(cur, c4+sA*vb), AR)
						VMOVUPS(m(cur, c4+(sA+1)*vb), AI)
					}
					// dC += 2gy·conj(h[t]): dCr += 2gy·hr, dCi −= 2gy·hi
					H, P := a.vec(), a.vec()
					dcr, dci := m(pcb, p4+2*vb), m(pcb, p4+3*vb)
					if md.perC {
						dcr, dci = f(rDCr), f(rDCi)
					}
					VMOVUPS(m(cur, c4), H)
					VMOVUPS(dcr, P)
					VFMADD231PS(H, G2, P)
					VMOVUPS(P, dcr)
					VMOVUPS(m(cur, c4+vb), H)
					VMOVUPS(dci, P)
					VFNMADD231PS(H, G2, P)
					VMOVUPS(P, dci)
					// g = dh + 2gy·conj(C)
					GR, GI := a.vec(), a.vec()
					VMOVUPS(f(rGhr), GR)
					VMOVUPS(f(rGhi), GI)
					if md.perC {
						VFMADD231PS(f(rCr), G2, GR)
						VFNMADD231PS(f(rCi), G2, GI)
					} else {
						a.bfma(m(pcm, 4*k), G2, GR)
						a.bfnma(m(pci, 4*k), G2, GI)
					}
					// dB += x·g; S1 += Re(g·conj(B))
					dbr, dbi := m(pcb, p4), m(pcb, p4+vb)
					if md.perB {
						dbr, dbi = f(rDBr), f(rDBi)
					}
					VMOVUPS(dbr, P)
					VFMADD231PS(GR, X, P)
					VMOVUPS(P, dbr)
					VMOVUPS(dbi, P)
					VFMADD231PS(GI, X, P)
					VMOVUPS(P, dbi)
					if md.perB {
						VFMADD231PS(f(rBr), GR, S1s[k])
						VFMADD231PS(f(rBi), GI, S1s[k])
					} else {
						a.bfma(m(pbm, 4*k), GR, S1s[k])
						a.bfma(m(pbi, 4*k), GI, S1s[k])
					}
					// gA = conj(Ā)·dĀ with dĀ = g·conj(h[t−1]): g·conj(P)
					GRE, GIM, PR, PI := a.vec(), a.vec(), a.vec(), a.vec()
					VMOVUPS(m(cur, c4+sP*vb), PR)
					VMOVUPS(m(cur, c4+(sP+1)*vb), PI)
					VMULPS(PR, GR, GRE)
					VFMADD231PS(PI, GI, GRE) // gr·pr + gi·pi
					VMULPS(PR, GI, GIM)
					VFNMADD231PS(PI, GR, GIM) // gi·pr − gr·pi
					// dA += Δ·gA; dΔ += Re(gA·conj(A))
					VMOVUPS(f(rDAr), P)
					VFMADD231PS(GRE, DT, P)
					VMOVUPS(P, f(rDAr))
					VMOVUPS(f(rDAi), P)
					VFMADD231PS(GIM, DT, P)
					VMOVUPS(P, f(rDAi))
					VFMADD231PS(f(rArR), GRE, DDTs[k])
					VFMADD231PS(f(rAi), GIM, DDTs[k])
					// dh[t−1] = conj(Ā)·g
					T1, T2 := a.vec(), a.vec()
					VMULPS(AR, GR, T1)
					VFMADD231PS(AI, GI, T1)
					VMULPS(AR, GI, T2)
					VFNMADD231PS(AI, GR, T2)
					VMOVUPS(T1, f(rGhr))
					VMOVUPS(T2, f(rGhi))
				}
				ADDQ(U32(sb*u), cur)
				ADDQ(U32(4*vb*u), pcb)
				ADDQ(U32(rb*u), prec)
				if !md.perB {
					ADDQ(U32(4*u), pbm)
					ADDQ(U32(4*u), pbi)
				}
				if !md.perC {
					ADDQ(U32(4*u), pcm)
					ADDQ(U32(4*u), pci)
				}
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
			MOVQ(m(A, bRec), pg)
			ADDQ(m(A, bGoff), pg)
			MOVQ(m(A, bN), ncnt)
			zv := a.vec()
			VXORPS(zv, zv, zv)
			Label("bw_zero")
			VMOVUPS(zv, m(pg, rGhr*vb))
			VMOVUPS(zv, m(pg, rGhi*vb))
			ADDQ(U32(rb), pg)
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
		// dΔraw = (u·S1 + Σ Re(gA·conj(A)))·σ(delta + bias)
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
		IMUL3Q(U32(rb), tmp, tmp)
		ADDQ(tmp, m(A, bGoff))
		MOVQ(m(A, bGroups), tmp)
		SHLQ(U8(log2(vb)), tmp)
		CMPQ(tmp, m(A, bOff))
		JG(LabelRef("g_loop"))
	}
	VZEROUPPER()
	RET()
}

// cis sets re[i], im[i] = Ā of dt[i]·(ar[i] + i·ai[i]) as the kernels
// compute it (ar scaled by log2 e), for n a multiple of W: for the tests.
func (a *isa) cis() {
	name := "cscanCis" + a.name
	TEXT(name, NOSPLIT, "func(re, im, dt, ar, ai *float32, n int)")
	Pragma("noescape")
	Doc(name + " sets re[i] + i·im[i] = 2^(dt[i]·ar[i])·(cos(dt[i]·ai[i]) + i·sin(dt[i]·ai[i])) for i < n (n a multiple of the vector width), as the complex scan kernels compute Ā.")
	re := Load(Param("re"), GP64())
	im := Load(Param("im"), GP64())
	dt := Load(Param("dt"), GP64())
	ar := Load(Param("ar"), GP64())
	ai := Load(Param("ai"), GP64())
	n := Load(Param("n"), GP64())
	a.loadConsts(mode{})
	TESTQ(n, n)
	JZ(LabelRef("done"))
	Label("loop")
	D, E, T := a.vec(), a.vec(), a.vec()
	VMOVUPS(m(dt, 0), D)
	VMULPS(m(ar, 0), D, E)
	VMULPS(m(ai, 0), D, T)
	R, I := a.cisN([]VecVirtual{E}, []VecVirtual{T})
	VMOVUPS(R[0], m(re, 0))
	VMOVUPS(I[0], m(im, 0))
	for _, p := range []Register{re, im, dt, ar, ai} {
		ADDQ(U32(a.vb()), p)
	}
	SUBQ(U32(a.W), n)
	JNZ(LabelRef("loop"))
	Label("done")
	VZEROUPPER()
	RET()
}

// laneSum sets dst[r] = Σ_j src[r·W + j] for r < rows.
func (a *isa) laneSum() {
	name := "cscanLaneSum" + a.name
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

func main() {
	ConstraintExpr("!purego")
	for _, a := range []*isa{{name: "AVX512", W: 16, z: true}, {name: "AVX2", W: 8}} {
		a.tbl = GLOBL("cscanconst"+a.name, RODATA|NOPTR)
		a.index = map[string]int{}
		for i, name := range constNames {
			a.index[name] = i
			for j := 0; j < a.W; j++ {
				DATA((i*a.W+j)*4, U32(a.constBits(name)))
			}
		}
		for i := 0; i < 8; i++ {
			md := mode{perB: i&1 != 0, perC: i&2 != 0, lti: i&4 != 0}
			a.forward(md)
			a.backward(md)
		}
		a.cis()
		a.laneSum()
	}
	Generate()
}
