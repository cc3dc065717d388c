package main

import (
	"fmt"
	"math"
	"math/big"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// -kernel scancomplex: ../scan_complex_amd64.s, the complex
// (S4D-Lin) scan's forward and backward kernels for AVX-512 (16 channels
// per zmm register) and AVX2 with FMA (8 channels per ymm register), and
// the vector Ā = exp(Δ·A) = 2^(Δ·Ar·log2 e)·(cos(Δ·Ai), sin(Δ·Ai)) they
// use, exported for its error test.
//
// See scan_complex.go for the Go equivalent and scan_complex_amd64.go for
// the argument blocks and scratch layouts.
//
// The structure follows the real kernels of scan_asm.go: vectorization is
// across channels d (W consecutive channels of one time step are
// contiguous in U, Delta, Z, Y); time outer, channel groups inner; the
// state h of a group, N complex numbers of W lanes, lives in a (G, N, 2, W)
// buffer between steps. Each kernel is generated in eight variants (mode):
// B selective (broadcast from (B, L, N) rows) or per channel (a (D, N)
// table transposed into the per-(group, n) record), the same for C, and Ā
// computed per step from Δ (the selective scan) or read from the record
// (LTI: Δ constant over time per channel, so Ā is computed once by the
// caller).

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

// cscanISA generates the complex scan's kernels for one instruction set.
type cscanISA struct{ *isa }

// cscanConsts is the complex scan's table of constants (constLane), in
// order.
var cscanConsts = []string{"log2e", "magic", "ln2hi", "ln2lo", "c0", "c1", "c2", "c3", "c4", "c5", "c6",
	"hi", "lo", "one", "two", "sign", "l1", "l2", "l3", "l4", "l5", "l6",
	"hi2", "lo2", "magic2", "p0", "p1", "p2", "p3", "p4", "p5",
	"twoopi", "pio2a", "pio2b", "pio2c", "thmax", "thmin", "sin1", "sin2", "sin3", "cos1", "cos2", "cos3", "mhalf"}

// constLane returns lane j of constant name: those of sincos here, the
// rest from mathConst, whose exp the complex scan runs on AVX-512 too
// (expN, with vscalefps, so with a wider clamp).
func (a *cscanISA) constLane(name string, j int) uint32 {
	f := func(x float32) uint32 { return math.Float32bits(x) }
	switch name {
	case "hi":
		if a.z {
			return f(89)
		}
	case "lo":
		if a.z {
			return f(-104)
		}
	case "mhalf":
		return f(-0.5)
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
	case "sin1", "sin2", "sin3":
		return f(sinPoly[name[3]-'1'])
	case "cos1", "cos2", "cos3":
		return f(cosPoly[name[3]-'1'])
	}
	return a.mathConst(name, j)
}

// loadConsts puts constants of the inner loops in registers: with 32 zmm
// registers the clamps and rounding constant of 2^x when Ā is computed
// per step (more would leave two interleaved sincos chains without
// registers); the rest are memory operands.
func (a *cscanISA) loadConsts(md mode) {
	if a.z && !md.lti {
		a.holdConsts("hi2", "lo2", "magic2")
		return
	}
	a.holdConsts()
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
func (a *cscanISA) cisN(es, ths []VecVirtual) (re, im []VecVirtual) {
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
	each(ths, func(i int, x VecVirtual) { ss[i] = a.vec(); VMOVUPS(a.k("sin2"), ss[i]) })
	each(ths, func(i int, x VecVirtual) { VFMADD231PS(a.k("sin3"), zs[i], ss[i]) })
	each(ths, func(i int, x VecVirtual) { VFMADD213PS(a.k("sin1"), zs[i], ss[i]) })
	each(ths, func(i int, x VecVirtual) { VMULPS(zs[i], ss[i], ss[i]) })
	each(ths, func(i int, x VecVirtual) { VFMADD213PS(x, x, ss[i]) })
	// cos: 1 + z·(−½ + z·(c1 + z·(c2 + z·c3)))
	each(ths, func(i int, x VecVirtual) { cs[i] = a.vec(); VMOVUPS(a.k("cos2"), cs[i]) })
	each(ths, func(i int, x VecVirtual) { VFMADD231PS(a.k("cos3"), zs[i], cs[i]) })
	each(ths, func(i int, x VecVirtual) { VFMADD213PS(a.k("cos1"), zs[i], cs[i]) })
	each(ths, func(i int, x VecVirtual) { VFMADD213PS(a.k("mhalf"), zs[i], cs[i]) })
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

// Forward argument block (cscanFwdArgs in scan_complex_amd64.go).
const (
	cfU = 8 * iota
	cfDelta
	cfZ
	cfY
	cfBm
	cfBi
	cfCm
	cfCi
	cfReset
	cfBias
	cfSkip
	cfRec
	cfH
	cfPre
	cfSteps
	cfGroups
	cfN
	cfLdd
	cfLdbn
)

// abar returns Ā of the u records at rec (stride R·vb) for the step's Δ.
func (a *cscanISA) abar(md mode, rec Register, DT VecVirtual, u int) (re, im []VecVirtual) {
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

func (a *cscanISA) unroll(md mode) int {
	if a.z || md.lti {
		return 2
	}
	return 1
}

func (a *cscanISA) forward(md mode) {
	name := fmt.Sprintf("cscanFwd%s%d", a.name, md.index())
	TEXT(name, NOSPLIT, "func(args *uint64)")
	Pragma("noescape")
	Doc(name + " runs args.steps time steps of the complex scan for args.groups groups of W channels; see cscanFwdArgs.")
	A := Load(Param("args"), GP64())
	a.loadConsts(md)
	vb := a.vb()
	rb := rN * vb
	steps := GP64()
	MOVQ(m(A, cfSteps), steps)

	Label("t_loop")
	TESTQ(steps, steps)
	JZ(LabelRef("done"))
	// A reset at this step zeroes the state of every channel.
	rp := GP64()
	MOVQ(m(A, cfReset), rp)
	TESTQ(rp, rp)
	JZ(LabelRef("noreset"))
	rbt := GP32()
	MOVBLZX(m(rp, 0), rbt)
	TESTL(rbt, rbt)
	JZ(LabelRef("noreset"))
	{
		hp, cnt := GP64(), GP64()
		MOVQ(m(A, cfH), hp)
		MOVQ(m(A, cfGroups), cnt)
		IMULQ(m(A, cfN), cnt)
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
		MOVQ(m(A, cfPre), pp)
		MOVQ(m(A, cfGroups), end)
		SHLQ(U8(log2(vb)), end)
		Label("pre_loop")
		var DT VecVirtual
		if md.lti {
			// Δ per channel, from the caller (in the bias slot).
			DT = a.vec()
			MOVQ(m(A, cfBias), tmp)
			VMOVUPS(mi(tmp, off), DT)
		} else {
			X := a.vec()
			MOVQ(m(A, cfDelta), tmp)
			VMOVUPS(mi(tmp, off), X)
			MOVQ(m(A, cfBias), tmp)
			VADDPS(mi(tmp, off), X, X)
			DT = a.softplus(X)
		}
		VMOVUPS(DT, m(pp, 0))
		MOVQ(m(A, cfU), tmp)
		VMULPS(mi(tmp, off), DT, DT)
		VMOVUPS(DT, m(pp, vb))
		MOVQ(m(A, cfZ), tmp)
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
	MOVQ(m(A, cfH), ph)
	MOVQ(m(A, cfRec), prec)
	MOVQ(m(A, cfPre), pp)
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
			MOVQ(m(A, cfBm), pbm)
			MOVQ(m(A, cfBi), pbi)
		}
		if !md.perC {
			MOVQ(m(A, cfCm), pcm)
			MOVQ(m(A, cfCi), pci)
		}
		nLoop("n", m(A, cfN), ncnt, a.unroll(md), func(u int) {
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
		MOVQ(m(A, cfU), tmp)
		VMOVUPS(mi(tmp, off), Uv)
		MOVQ(m(A, cfSkip), tmp)
		VFMADD231PS(mi(tmp, off), Uv, Y)
		MOVQ(m(A, cfZ), tmp)
		TESTQ(tmp, tmp)
		JZ(LabelRef("nogate"))
		VMULPS(m(pp, 2*vb), Y, Y)
		Label("nogate")
		MOVQ(m(A, cfY), tmp)
		VMOVUPS(Y, mi(tmp, off))
		ADDQ(U32(vb), off)
		ADDQ(U32(3*vb), pp)
		MOVQ(m(A, cfGroups), tmp)
		SHLQ(U8(log2(vb)), tmp)
		CMPQ(off, tmp)
		JL(LabelRef("g_loop"))
	}
	// Next time step.
	{
		ld, tmp := GP64(), GP64()
		MOVQ(m(A, cfLdd), ld)
		ADDQ(ld, m(A, cfU))
		ADDQ(ld, m(A, cfDelta))
		ADDQ(ld, m(A, cfY))
		MOVQ(m(A, cfZ), tmp)
		TESTQ(tmp, tmp)
		JZ(LabelRef("nozadv"))
		ADDQ(ld, m(A, cfZ))
		Label("nozadv")
		MOVQ(m(A, cfReset), tmp)
		TESTQ(tmp, tmp)
		JZ(LabelRef("noradv"))
		INCQ(m(A, cfReset))
		Label("noradv")
		MOVQ(m(A, cfLdbn), tmp)
		ADDQ(tmp, m(A, cfBm))
		ADDQ(tmp, m(A, cfBi))
		ADDQ(tmp, m(A, cfCm))
		ADDQ(tmp, m(A, cfCi))
	}
	DECQ(steps)
	JMP(LabelRef("t_loop"))
	Label("done")
	VZEROUPPER()
	RET()
}

// Backward argument block (cscanBwdArgs in scan_complex_amd64.go).
const (
	cbU = 8 * iota
	cbDelta
	cbZ
	cbDY
	cbDU
	cbDDelta
	cbDZ
	cbBm
	cbBi
	cbCm
	cbCi
	cbReset
	cbBias
	cbSkip
	cbRec
	cbH0
	cbGacc
	cbHs
	cbDts
	cbPcb
	cbZero
	cbSteps
	cbGroups
	cbN
	cbLdd
	cbLdbn
	cbLsd // LTI: σ(delta + bias) per channel (bias then holds Δ)
	// scratch slots
	cbOff
	cbT
	cbRo
	cbGoff
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

func (a *cscanISA) backward(md mode) {
	name := fmt.Sprintf("cscanBwd%s%d", a.name, md.index())
	TEXT(name, NOSPLIT, "func(args *uint64)")
	Pragma("noescape")
	Doc(name + " runs the complex scan's backward pass over one chunk of args.steps time steps for args.groups groups of W channels; see cscanBwdArgs.")
	A := Load(Param("args"), GP64())
	a.loadConsts(md)
	vb := a.vb()
	rb := rN * vb
	sb := slots(md) * vb // bytes per (t, n) of hs
	MOVQ(U32(0), m(A, cbOff))
	MOVQ(U32(0), m(A, cbGoff))

	Label("g_loop")
	// 1. hs[0][n] = h0 of the group (G, N, 2, W).
	{
		p1, p2, ncnt := GP64(), GP64(), GP64()
		// The group's h0 is at g·N·2·vb = off·N·2.
		MOVQ(m(A, cbOff), p2)
		IMULQ(m(A, cbN), p2)
		MOVQ(m(A, cbH0), p1)
		LEAQ(Mem{Base: p1, Index: p2, Scale: 2}, p1)
		MOVQ(m(A, cbHs), p2)
		MOVQ(m(A, cbN), ncnt)
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
		MOVQ(m(A, cbOff), off)
		MOVQ(m(A, cbDts), pd)
		Label("pre_t")
		MOVQ(t, ro)
		IMULQ(m(A, cbLdd), ro)
		ADDQ(off, ro)
		for _, f := range []int{cbDelta, cbZ, cbU, cbDY, cbDU, cbDDelta, cbDZ} {
			MOVQ(m(A, f), tmp)
			PREFETCHT0(Mem{Base: tmp, Index: ro, Scale: 1, Disp: vb})
		}
		var DT, SD VecVirtual
		if md.lti {
			// Δ and σ(delta+bias) per channel, from the caller (in the
			// bias and lsd slots).
			DT, SD = a.vec(), a.vec()
			MOVQ(m(A, cbBias), tmp)
			VMOVUPS(mi(tmp, off), DT)
			MOVQ(m(A, cbLsd), tmp)
			VMOVUPS(mi(tmp, off), SD)
		} else {
			X := a.vec()
			MOVQ(m(A, cbDelta), tmp)
			VMOVUPS(mi(tmp, ro), X)
			MOVQ(m(A, cbBias), tmp)
			VADDPS(mi(tmp, off), X, X)
			DT, SD = a.softplusSigmoid(X)
		}
		VMOVUPS(DT, m(pd, dtsDT*vb))
		VMOVUPS(SD, m(pd, dtsSD*vb))
		MOVQ(m(A, cbZ), tmp)
		TESTQ(tmp, tmp)
		JZ(LabelRef("pre_nogate"))
		Zv := a.vec()
		VMOVUPS(mi(tmp, ro), Zv)
		SZ := a.sigmoid(Zv)
		VMOVUPS(SZ, m(pd, dtsSZ*vb))
		Label("pre_nogate")
		ADDQ(U32(dtsN*vb), pd)
		INCQ(t)
		CMPQ(t, m(A, cbSteps))
		JL(LabelRef("pre_t"))
	}
	// 3. Recompute Ā, h and the ungated y over the chunk.
	MOVQ(U32(0), m(A, cbT))
	Label("rc_t")
	{
		t, ro, off, tmp, pd := GP64(), GP64(), GP64(), GP64(), GP64()
		rs := GP64() // bytes per time row of hs and pcb: N·4·vb
		MOVQ(m(A, cbT), t)
		CMPQ(t, m(A, cbSteps))
		JGE(LabelRef("rc_done"))
		MOVQ(m(A, cbOff), off)
		MOVQ(t, ro)
		IMULQ(m(A, cbLdd), ro)
		ADDQ(off, ro)
		MOVQ(t, pd)
		IMUL3Q(U32(dtsN*vb), pd, pd)
		ADDQ(m(A, cbDts), pd)
		DT, X := a.vec(), a.vec()
		VMOVUPS(m(pd, dtsDT*vb), DT)
		MOVQ(m(A, cbU), tmp)
		VMULPS(mi(tmp, ro), DT, X)
		Yr := []VecVirtual{a.vec(), a.vec()}
		Yi := []VecVirtual{a.vec(), a.vec()}
		for _, r := range append(Yr, Yi...) {
			VXORPS(r, r, r)
		}
		prev, cur, prec, pbm, pbi, pcm, pci, ncnt := GP64(), GP64(), GP64(), GP64(), GP64(), GP64(), GP64(), GP64()
		MOVQ(m(A, cbN), rs)
		IMUL3Q(U32(sb), rs, rs)
		MOVQ(t, prev)
		IMULQ(rs, prev)
		ADDQ(m(A, cbHs), prev)
		LEAQ(Mem{Base: prev, Index: rs, Scale: 1}, cur)
		MOVQ(m(A, cbReset), tmp)
		TESTQ(tmp, tmp)
		JZ(LabelRef("rc_noreset"))
		rbt := GP32()
		MOVBLZX(mi(tmp, t), rbt)
		TESTL(rbt, rbt)
		JZ(LabelRef("rc_noreset"))
		MOVQ(m(A, cbZero), prev)
		Label("rc_noreset")
		MOVQ(m(A, cbRec), prec)
		ADDQ(m(A, cbGoff), prec)
		MOVQ(t, tmp)
		IMULQ(m(A, cbLdbn), tmp)
		if !md.perB {
			MOVQ(m(A, cbBm), pbm)
			ADDQ(tmp, pbm)
			MOVQ(m(A, cbBi), pbi)
			ADDQ(tmp, pbi)
		}
		if !md.perC {
			MOVQ(m(A, cbCm), pcm)
			ADDQ(tmp, pcm)
			MOVQ(m(A, cbCi), pci)
			ADDQ(tmp, pci)
		}
		nLoop("rc_n", m(A, cbN), ncnt, a.unroll(md), func(u int) {
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
		MOVQ(m(A, cbU), tmp)
		Uv := a.vec()
		VMOVUPS(mi(tmp, ro), Uv)
		MOVQ(m(A, cbSkip), tmp)
		VFMADD231PS(mi(tmp, off), Uv, Yr[0])
		VMOVUPS(Yr[0], m(pd, dtsY*vb))
		INCQ(m(A, cbT))
		JMP(LabelRef("rc_t"))
	}
	Label("rc_done")

	// 4. Adjoint recurrence, t from steps−1 down to 0.
	Label("bw_t")
	{
		t, ro, off, tmp, pd := GP64(), GP64(), GP64(), GP64(), GP64()
		rs := GP64()
		MOVQ(m(A, cbT), t)
		TESTQ(t, t)
		JZ(LabelRef("bw_done"))
		DECQ(t)
		MOVQ(t, m(A, cbT))
		MOVQ(m(A, cbOff), off)
		MOVQ(t, ro)
		IMULQ(m(A, cbLdd), ro)
		ADDQ(off, ro)
		MOVQ(ro, m(A, cbRo))
		MOVQ(t, pd)
		IMUL3Q(U32(dtsN*vb), pd, pd)
		ADDQ(m(A, cbDts), pd)
		GY, U, DT := a.vec(), a.vec(), a.vec()
		MOVQ(m(A, cbDY), tmp)
		VMOVUPS(mi(tmp, ro), GY)
		MOVQ(m(A, cbU), tmp)
		VMOVUPS(mi(tmp, ro), U)
		VMOVUPS(m(pd, dtsDT*vb), DT)
		// Gate: dz = gy·y·σ·(1 + z·(1−σ)), then gy·silu(z).
		MOVQ(m(A, cbZ), tmp)
		TESTQ(tmp, tmp)
		JZ(LabelRef("bw_nogate"))
		{
			Zv, S := a.vec(), a.vec()
			VMOVUPS(mi(tmp, ro), Zv)
			VMOVUPS(m(pd, dtsSZ*vb), S)
			MOVQ(m(A, cbDZ), tmp)
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
			MOVQ(m(A, cbGacc), p)
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
			MOVQ(m(A, cbN), rs)
			SHLQ(U8(log2(4*vb)), rs)
			MOVQ(t, pcb)
			IMULQ(rs, pcb)
			ADDQ(m(A, cbPcb), pcb)
			MOVQ(m(A, cbN), rs)
			IMUL3Q(U32(sb), rs, rs)
			LEAQ(Mem{Base: t, Disp: 1}, cur)
			IMULQ(rs, cur)
			ADDQ(m(A, cbHs), cur)
			MOVQ(m(A, cbRec), prec)
			ADDQ(m(A, cbGoff), prec)
			MOVQ(t, tmp)
			IMULQ(m(A, cbLdbn), tmp)
			if !md.perB {
				MOVQ(m(A, cbBm), pbm)
				ADDQ(tmp, pbm)
				MOVQ(m(A, cbBi), pbi)
				ADDQ(tmp, pbi)
			}
			if !md.perC {
				MOVQ(m(A, cbCm), pcm)
				ADDQ(tmp, pcm)
				MOVQ(m(A, cbCi), pci)
				ADDQ(tmp, pci)
			}
			nLoop("bw_n", m(A, cbN), ncnt, a.unroll(md), func(u int) {
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
		MOVQ(m(A, cbReset), tmp)
		TESTQ(tmp, tmp)
		JZ(LabelRef("bw_noreset2"))
		MOVQ(m(A, cbT), t)
		MOVBLZX(mi(tmp, t), ro.As32())
		TESTL(ro.As32(), ro.As32())
		JZ(LabelRef("bw_noreset2"))
		{
			pg, ncnt := GP64(), GP64()
			MOVQ(m(A, cbRec), pg)
			ADDQ(m(A, cbGoff), pg)
			MOVQ(m(A, cbN), ncnt)
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
		MOVQ(m(A, cbRo), ro)
		MOVQ(m(A, cbOff), off)
		// du = gy·D + Δ·S1
		MOVQ(m(A, cbDU), tmp)
		TESTQ(tmp, tmp)
		JZ(LabelRef("bw_nodu"))
		{
			DU, SK := a.vec(), a.vec()
			MOVQ(m(A, cbSkip), t)
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
			MOVQ(m(A, cbGacc), p)
			LEAQ(Mem{Base: p, Index: off, Scale: 2}, p)
			VMOVUPS(m(p, vb), V)
			VADDPS(DDT, V, V) // dbias += dΔraw
			VMOVUPS(V, m(p, vb))
		}
		MOVQ(m(A, cbDDelta), tmp)
		TESTQ(tmp, tmp)
		JZ(LabelRef("bw_t"))
		VMOVUPS(DDT, mi(tmp, ro))
		JMP(LabelRef("bw_t"))
	}
	Label("bw_done")
	// Next group.
	{
		tmp := GP64()
		ADDQ(U32(vb), m(A, cbOff))
		MOVQ(m(A, cbN), tmp)
		IMUL3Q(U32(rb), tmp, tmp)
		ADDQ(tmp, m(A, cbGoff))
		MOVQ(m(A, cbGroups), tmp)
		SHLQ(U8(log2(vb)), tmp)
		CMPQ(tmp, m(A, cbOff))
		JG(LabelRef("g_loop"))
	}
	VZEROUPPER()
	RET()
}

// cis sets re[i], im[i] = Ā of dt[i]·(ar[i] + i·ai[i]) as the kernels
// compute it (ar scaled by log2 e), for n a multiple of W: for the tests.
func (a *cscanISA) cis() {
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

// genScanComplex generates scan_complex_amd64.s.
func genScanComplex() {
	for _, a := range isas() {
		a.log1p = []string{"l1", "l2", "l3", "l4", "l5", "l6"}
		s := &cscanISA{a}
		a.table("cscanconst", cscanConsts, s.constLane)
		for i := 0; i < 8; i++ {
			md := mode{perB: i&1 != 0, perC: i&2 != 0, lti: i&4 != 0}
			s.forward(md)
			s.backward(md)
		}
		s.cis()
		a.laneSum("cscanLaneSum" + a.name)
	}
}
