package main

import (
	"fmt"
	"strings"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// -kernel scan: ../scan_amd64.s, the selective scan forward and backward
// kernels for AVX-512 (16 channels per zmm register) and AVX2
// with FMA (8 channels per ymm register), and a vector exp used by the tests.
//
// See scan_fused.go for the Go equivalent and scan_amd64.go for the argument
// blocks and scratch layouts.
//
// Vectorization is across channels d: U, Delta, Z, Y are (B, L, D), so W
// consecutive channels of one time step are contiguous; Bm[t,n], Cm[t,n]
// are broadcast to all lanes; A is pre-transposed by the caller. Each
// kernel comes in four variants (see variant): per-channel (non-selective)
// B and C, shape (D, N), are transposed by the caller into the per-group
// tables next to A and read as vectors.

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

// scanISA generates the real scan's kernels for one instruction set.
type scanISA struct{ *isa }

// scanConsts is the real scan's table of constants (mathConst), in order.
var scanConsts = []string{"log2e", "magic", "ln2hi", "ln2lo", "c0", "c1", "c2", "c3", "c4", "c5", "c6",
	"hi", "lo", "one", "two", "sign", "m1", "m2", "m3", "m4",
	"hi2", "lo2", "magic2", "p0", "p1", "p2", "p3", "p4", "p5",
	"tab0", "tab1", "emask", "q1", "q2", "hi32", "lo32", "c32",
	"log2e32", "ln2hi32", "ln2lo32", "hiT", "loT", "half", "sixth", "bnd"}

// loadConsts puts the constants of the inner loops' 2^x in registers: on
// AVX-512 those of exp2T, the table included, on AVX2 the ones of exp2N
// that must be registers with 16 ymm.
func (a *scanISA) loadConsts() {
	if a.z {
		a.holdConsts("hi32", "lo32", "magic2", "q1", "q2", "tab0", "tab1", "emask")
		return
	}
	a.holdConsts("hi2", "lo2", "magic2")
}

// exp2 is the inner loops' Ā: 2^(x/32) on AVX-512 (exp2T; A′ is then
// pre-scaled by 32), 2^x on AVX2 (exp2N).
func (a *scanISA) exp2(xs []VecVirtual) []VecVirtual {
	if a.z {
		return a.exp2T(xs, true)
	}
	return a.exp2N(xs)
}

// aScale is the factor of A′ = A·log2 e·aScale that the inner loops take.
func (a *scanISA) aScale() int {
	if a.z {
		return 32
	}
	return 1
}

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

func (a *scanISA) forward(v variant) {
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
			nLoop("n", m(A, fN), ncnt, 2, body(true))
			JMP(LabelRef("n_end"))
			Label("n_fast")
			nLoop("nf", m(A, fN), ncnt, 2, body(false))
			Label("n_end")
		} else {
			nLoop("n", m(A, fN), ncnt, 2, body(true))
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
	bAmax // the pair kernels: (groups, W), max over n of |A′[d, n]| per channel
	bInit // the pair kernels: nonzero when the first pair starts the sums of pcb
)

// bcRows points pbm and pcm at the (B, L, N) rows of step t of the
// selective B and C (per-channel ones are in grp).
func (a *scanISA) bcRows(v variant, A, t, pbm, pcm Register) {
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
func (a *scanISA) bcAdvance(v variant, u int, pbm, pcm Register) {
	if !v.pb {
		ADDQ(U32(4*u), pbm)
	}
	if !v.pc {
		ADDQ(U32(4*u), pcm)
	}
}

func (a *scanISA) backward(v variant) {
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
		// The saved state misses the cache: fetch the next group's
		// into L2 a chunk's work ahead.
		PREFETCHT1(m(p1, vb))
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
		nLoop("rc_n", m(A, bN), ncnt, 2, func(u int) {
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
		t, ro, off, tmp, pd := a.adjointStep(A, 1)
		rs := GP64()
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
			nLoop("bw_n", m(A, bN), ncnt, 2, func(u int) {
				for k := 0; k < u; k++ {
					H, PC, DHN, PB, X, DAC := a.vec(), a.vec(), a.vec(), a.vec(), a.vec(), a.vec()
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
					// dh[t−1] = dh·Ā, once for the state and for
					// x = dh·Ā·h[t−1]; dΔ += x·A; dA += x·Δ
					VMULPS(m(cur, c2+vb), DHN, DHN)
					VMOVUPS(DHN, m(pg, g3+vb))
					VMULPS(m(prev, c2), DHN, X)
					VFMADD231PS(m(pg, g3), X, DDTs[k])
					VMOVUPS(m(pg, g3+2*vb), DAC)
					VFMADD231PS(X, DT, DAC)
					VMOVUPS(DAC, m(pg, g3+2*vb))
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
	bwdNextGroups(A, vb, S) // next group
	VZEROUPPER()
	RET()
}

// bwdNextGroups advances the backward's arguments at A past the channels
// just done, step bytes of them (a group, or a pair of groups), and their
// grp table (S vectors a channel vector), and loops to g_loop while
// channels remain.
func bwdNextGroups(A Register, step, S int) {
	tmp := GP64()
	ADDQ(U32(step), m(A, bOff))
	MOVQ(m(A, bN), tmp)
	IMUL3Q(U32(S*step), tmp, tmp)
	ADDQ(tmp, m(A, bGoff))
	MOVQ(m(A, bGroups), tmp)
	SHLQ(U8(log2(step)), tmp)
	CMPQ(tmp, m(A, bOff))
	JG(LabelRef("g_loop"))
}

// expVec computes dst[i] = exp(src[i]) (exp2 = false) or 2^src[i] (the
// inner loops' exp2N) for n elements, n a multiple of W.
func (a *scanISA) expVec(exp2 bool) {
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

// siluVec computes y[i] = x[i]/(1 + e^−x[i]) (SiLU) or, with grad,
// dx[i] = dy[i]·σ·(1 + x[i]·(1 − σ)) with σ = 1/(1 + e^−x[i]), for n
// elements, n a multiple of W: siluGo and siluGradGo (activation.go) on
// W lanes, with the same exp (a.exp) and the operations in the same order.
func (a *scanISA) siluVec(grad bool) {
	name, sig := "silu"+a.name, "func(y, x *float32, n int)"
	if grad {
		name, sig = "siluGrad"+a.name, "func(dx, dy, x *float32, n int)"
	}
	TEXT(name, NOSPLIT, sig)
	Pragma("noescape")
	Doc(name + " is " + strings.TrimSuffix(name, a.name) + "Go on " + fmt.Sprint(a.W) + " lanes (n a multiple of them): see siluVec in _asm/scan_asm.go.")
	var dst, dy Register
	if grad {
		dst = Load(Param("dx"), GP64())
		dy = Load(Param("dy"), GP64())
	} else {
		dst = Load(Param("y"), GP64())
	}
	src := Load(Param("x"), GP64())
	n := Load(Param("n"), GP64())
	a.loadConsts()
	TESTQ(n, n)
	JZ(LabelRef("done"))
	Label("loop")
	x, nx := a.vec(), a.vec()
	VMOVUPS(m(src, 0), x)
	VXORPS(a.mem("sign"), x, nx)
	e := a.exp(nx) // e^−x
	VADDPS(a.mem("one"), e, e)
	out := a.vec()
	if !grad {
		VDIVPS(e, x, out) // x/(1+e)
	} else {
		sg, t := a.vec(), a.vec()
		VMOVUPS(a.mem("one"), sg)
		VDIVPS(e, sg, sg) // σ
		VMOVUPS(a.mem("one"), t)
		VSUBPS(sg, t, t) // 1 − σ
		VMULPS(x, t, t)
		VADDPS(a.mem("one"), t, t) // 1 + x·(1 − σ)
		VMULPS(m(dy, 0), sg, out)  // dy·σ
		VMULPS(t, out, out)
		ADDQ(U32(a.vb()), dy)
	}
	VMOVUPS(out, m(dst, 0))
	ADDQ(U32(a.vb()), src)
	ADDQ(U32(a.vb()), dst)
	SUBQ(U32(a.W), n)
	JNZ(LabelRef("loop"))
	Label("done")
	VZEROUPPER()
	RET()
}

// ceRow computes the softmax numerators of one row of logits for the
// cross-entropy (crossentropy.go's ceRowGo): mx = max_i x[i], e[i] =
// exp(x[i] − mx) with the scan's exp, and sum = Σ_i e[i] in float64 lanes
// (W/2 sums of every other pair of W-lane steps, added at the end in a
// fixed order), for n a multiple of W and at least W.
func (a *scanISA) ceRow() {
	name := "ceRow" + a.name
	TEXT(name, NOSPLIT, "func(e, x *float32, n int) (mx float32, sum float64)")
	Pragma("noescape")
	Doc(name + " is ceRowGo on " + fmt.Sprint(a.W) + " lanes (n a positive multiple of them): see ceRow in _asm/scan_asm.go.")
	e := Load(Param("e"), GP64())
	x := Load(Param("x"), GP64())
	n := Load(Param("n"), GP64())
	a.loadConsts()
	// Pass 1: the maximum, lane by lane, then across lanes.
	mv := a.vec()
	VMOVUPS(m(x, 0), mv)
	i := GP64()
	MOVQ(U64(uint64(a.vb())), i)
	c := GP64()
	MOVQ(n, c)
	SUBQ(U32(a.W), c)
	JZ(LabelRef("reduce"))
	Label("max")
	VMAXPS(mi(x, i), mv, mv)
	ADDQ(U32(a.vb()), i)
	SUBQ(U32(a.W), c)
	JNZ(LabelRef("max"))
	Label("reduce")
	y := YMM()
	if a.z {
		VEXTRACTF64X4(U8(1), mv, y)
		VMAXPS(mv.AsY(), y, y)
	} else {
		VMOVUPS(mv, y)
	}
	x0, x1 := XMM(), XMM()
	VEXTRACTF128(U8(1), y, x1)
	VMAXPS(x1, y.AsX(), x0)
	VMOVHLPS(x0, x0, x1)
	VMAXPS(x1, x0, x0)
	VMOVSHDUP(x0, x1)
	VMAXSS(x1, x0, x0)
	vexStore(x0, ReturnIndex(0), false)
	mx := a.vec()
	VBROADCASTSS(x0, mx)

	// Pass 2: e = exp(x − mx) and its sum in float64.
	acc := a.vec()
	VXORPD(acc, acc, acc)
	Label("exp")
	t := a.vec()
	VMOVUPS(m(x, 0), t)
	VSUBPS(mx, t, t)
	ev := a.exp(t)
	VMOVUPS(ev, m(e, 0))
	lo, hi := a.vec(), a.vec()
	if a.z {
		hy := YMM()
		VEXTRACTF64X4(U8(1), ev, hy)
		VCVTPS2PD(ev.AsY(), lo)
		VCVTPS2PD(hy, hi)
	} else {
		hx := XMM()
		VEXTRACTF128(U8(1), ev, hx)
		VCVTPS2PD(ev.AsX(), lo)
		VCVTPS2PD(hx, hi)
	}
	VADDPD(lo, acc, acc)
	VADDPD(hi, acc, acc)
	ADDQ(U32(a.vb()), x)
	ADDQ(U32(a.vb()), e)
	SUBQ(U32(a.W), n)
	JNZ(LabelRef("exp"))
	// Across the float64 lanes: halves added until one is left.
	sy := YMM()
	if a.z {
		VEXTRACTF64X4(U8(1), acc, sy)
		VADDPD(acc.AsY(), sy, sy)
	} else {
		VMOVUPD(acc, sy)
	}
	s0, s1 := XMM(), XMM()
	VEXTRACTF128(U8(1), sy, s1)
	VADDPD(s1, sy.AsX(), s0)
	VUNPCKHPD(s0, s0, s1)
	VADDSD(s1, s0, s0)
	vexStore(s0, ReturnIndex(1), true)
	VZEROUPPER()
	RET()
}

// ceScale sets d[i] = e[i]·f for n a multiple of W (the cross-entropy's
// gradient: crossentropy.go's ceScaleGo).
func (a *scanISA) ceScale() {
	name := "ceScale" + a.name
	TEXT(name, NOSPLIT, "func(d, e *float32, f float32, n int)")
	Pragma("noescape")
	Doc(name + " is ceScaleGo on " + fmt.Sprint(a.W) + " lanes (n a multiple of them).")
	d := Load(Param("d"), GP64())
	e := Load(Param("e"), GP64())
	fx := Load(Param("f"), XMM())
	n := Load(Param("n"), GP64())
	f := a.vec()
	VBROADCASTSS(fx, f)
	TESTQ(n, n)
	JZ(LabelRef("done"))
	Label("loop")
	t := a.vec()
	VMULPS(m(e, 0), f, t)
	VMOVUPS(t, m(d, 0))
	ADDQ(U32(a.vb()), e)
	ADDQ(U32(a.vb()), d)
	SUBQ(U32(a.W), n)
	JNZ(LabelRef("loop"))
	Label("done")
	VZEROUPPER()
	RET()
}

// genScan generates scan_amd64.s.
func genScan() {
	for _, a := range isas() {
		a.expTable = a.z
		a.log1p = []string{"m1", "m2", "m3", "m4"}
		a.table("scanconst", scanConsts, a.mathConst)
		s := &scanISA{a}
		for _, v := range variants {
			s.forward(v)
			s.backward(v)
			if a.z {
				s.backwardPair(v)
			}
		}
		s.expVec(false)
		s.expVec(true)
		s.siluVec(false)
		s.siluVec(true)
		s.ceRow()
		s.ceScale()
		s.addF64()
		s.laneSumAdd()
		s.laneSumSet()
	}
}

// laneSum1 returns the sum of the lanes of the vector at mem, added in
// the order of isa.laneSum.
func (a *scanISA) laneSum1(mem Mem) VecVirtual {
	y := YMM()
	if a.z {
		z := ZMM()
		VMOVUPS(mem, z)
		VEXTRACTF64X4(U8(1), z, y)
		VADDPS(z.AsY(), y, y)
	} else {
		VMOVUPS(mem, y)
	}
	x, x1 := XMM(), XMM()
	VEXTRACTF128(U8(1), y, x1)
	VADDPS(x1, y.AsX(), x)
	VMOVHLPS(x, x, x1)
	VADDPS(x1, x, x)
	VMOVSHDUP(x, x1)
	VADDSS(x1, x, x)
	return x
}

// laneSumAdd emits scanLaneSumAdd<ISA>(part, src *float32, steps, n int):
// the backward's selective dB and dC, lane-wise in src (steps, n, 2, W)
// as (dC, dB) pairs, summed across lanes (laneSum1) and added
// to the rows of part (steps, 2, n): dB at part[t·2n + i], dC at
// part[t·2n + n + i].
func (a *scanISA) laneSumAdd() {
	name := "scanLaneSumAdd" + a.name
	TEXT(name, NOSPLIT, "func(part, src *float32, steps, n int)")
	Pragma("noescape")
	Doc(name + " adds the lane sums of the (dC, dB) vector pairs at src to the (dB, dC) rows of part, for steps rows of n pairs.")
	part := Load(Param("part"), GP64())
	src := Load(Param("src"), GP64())
	t := Load(Param("steps"), GP64())
	n := Load(Param("n"), GP64())
	TESTQ(t, t)
	JZ(LabelRef("done"))
	TESTQ(n, n)
	JZ(LabelRef("done"))
	nb := GP64() // n in bytes: from dB to dC within a row
	MOVQ(n, nb)
	SHLQ(U8(2), nb)
	Label("t_loop")
	i := GP64()
	MOVQ(n, i)
	Label("n_loop")
	for k, off := range []Op{Mem{Base: part, Index: nb, Scale: 1}, m(part, 0)} {
		x := a.laneSum1(m(src, k*a.vb()))
		VADDSS(off, x, x)
		VMOVSS(x, off)
	}
	ADDQ(U32(2*a.vb()), src)
	ADDQ(U32(4), part)
	DECQ(i)
	JNZ(LabelRef("n_loop"))
	ADDQ(nb, part) // past the dC row
	DECQ(t)
	JNZ(LabelRef("t_loop"))
	Label("done")
	VZEROUPPER()
	RET()
}

// addF64 emits scanAddF64<ISA>(dst *float64, src *float32, rows, stride
// int): dst[r·W+j] += float64(src[r·stride+j]), then src[r·stride+j] = 0,
// for r < rows, j < W (stride in bytes). It moves the backward's per-chunk
// float32 sums over time into their float64 totals and clears them for
// the next chunk.
func (a *scanISA) addF64() {
	name := "scanAddF64" + a.name
	TEXT(name, NOSPLIT, "func(dst *float64, src *float32, rows, stride int)")
	Pragma("noescape")
	Doc(name + " adds the W floats at src[r·stride:] to the W float64s at dst[r·W:] and zeroes them, for r < rows (stride in bytes).")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	n := Load(Param("rows"), GP64())
	st := Load(Param("stride"), GP64())
	TESTQ(n, n)
	JZ(LabelRef("done"))
	zero := a.vec()
	VXORPS(zero, zero, zero)
	Label("loop")
	for k := 0; k < a.W/4; k++ {
		y := YMM()
		VCVTPS2PD(m(src, 16*k), y)
		VADDPD(m(dst, 32*k), y, y)
		VMOVUPD(y, m(dst, 32*k))
	}
	VMOVUPS(zero, m(src, 0))
	ADDQ(st, src)
	ADDQ(U32(8*a.W), dst)
	DECQ(n)
	JNZ(LabelRef("loop"))
	Label("done")
	VZEROUPPER()
	RET()
}

// backwardPair is backward for two adjacent groups at once (AVX-512
// only): every pass runs both groups' chains side by side, so that the
// selective B and C of a step are loaded once for the two groups, and
// the lane-wise dB, dC sums in pcb are read and written once per pair
// (each lane of pcb still adds group g's term, then g+1's: the order of
// backward, so the same bits). args.groups is the number of pairs. The
// chunk scratch interleaves the two groups: hsda is (K+1, N, 2, 2, W)
// (n, then group, then h and Ā), dts (K, 2, dtsN, W), zero (N, 2, 2, W).
// grp, gacc, h0 and the rows keep backward's layouts (the second group
// is the next one). Two more differences from backward, neither of which
// changes a bit: the recomputation runs its n loop without the clamps of
// 2^x when Δ·max_n |A′| ≤ 4012 in every lane of both groups (args.amax,
// as the forward does), and with args.init the call's first pair starts
// the sums of pcb from a zeroed register instead of loading them, so the
// caller need not clear pcb for every chunk. Measured at the shape of
// bench train (B 8, L 512, D 256, N 16), against backward on the same
// calls (BenchmarkScanPairAB): 0.83–0.87 of its CPU time.
// adjointStep starts a step of the backward's adjoint recurrence over
// groups channel groups side by side (1, or 2 in backwardPair): t (the
// step, from the argument block A, decremented and stored back; done when
// it was 0), ro (the step's row offset, stored too), off, a scratch
// register and pd (the step's slot in the dts scratch). The rows of step
// t−1 went back to L2 while the chunk scratch streamed through L1: they
// are prefetched a step ahead, one cache line a group (a prefetch never
// faults, so absent rows and the row before t = 0 are harmless).
func (a *scanISA) adjointStep(A Register, groups int) (t, ro, off, tmp, pd GPVirtual) {
	vb := a.vb()
	t, ro, off, tmp, pd = GP64(), GP64(), GP64(), GP64(), GP64()
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
	pf := GP64()
	MOVQ(ro, pf)
	SUBQ(m(A, bLdd), pf)
	for _, f := range []int{bDY, bU, bZ, bDU, bDDelta, bDZ} {
		MOVQ(m(A, f), tmp)
		for x := 0; x < groups; x++ {
			PREFETCHT0(Mem{Base: tmp, Index: pf, Scale: 1, Disp: x * vb})
		}
	}
	MOVQ(t, pd)
	IMUL3Q(U32(groups*dtsN*vb), pd, pd)
	ADDQ(m(A, bDts), pd)
	return t, ro, off, tmp, pd
}

func (a *scanISA) backwardPair(v variant) {
	name := "scanBwd2" + a.name + v.suffix()
	TEXT(name, NOSPLIT, "func(args *uint64)")
	Pragma("noescape")
	Doc(name + " runs the backward pass over one chunk of args.steps time steps for args.groups pairs of groups of W channels; see scanBwdArgs.")
	A := Load(Param("args"), GP64())
	vb := a.vb()
	S, sB, sDB, sC, sDC := v.bwdSlots()
	gx := []int{0, 1} // the two groups of the pair
	MOVQ(U32(0), m(A, bOff))
	MOVQ(U32(0), m(A, bGoff))

	Label("g_loop")
	// The inner loops' 2^x constants, loaded again for every pair so that
	// they are free in the adjoint pass (which needs the registers).
	a.loadConsts()
	// 1. hsda[0][n][x][0] = h0[n] of group x (rows ldd apart).
	{
		p1, p2, ncnt, tmp := GP64(), GP64(), GP64(), GP64()
		MOVQ(m(A, bH0), p1)
		ADDQ(m(A, bOff), p1)
		MOVQ(m(A, bHsda), p2)
		MOVQ(m(A, bN), ncnt)
		MOVQ(m(A, bLdd), tmp)
		Label("h0_loop")
		// The next pair's saved state, into L2 a chunk's work ahead.
		PREFETCHT1(m(p1, 2*vb))
		PREFETCHT1(m(p1, 3*vb))
		for _, x := range gx {
			V := a.vec()
			VMOVUPS(m(p1, x*vb), V)
			VMOVUPS(V, m(p2, x*2*vb))
		}
		ADDQ(tmp, p1)
		ADDQ(U32(4*vb), p2)
		DECQ(ncnt)
		JNZ(LabelRef("h0_loop"))
	}
	// 2. Per step: Δ, σ(delta+bias), σ(z) of both groups.
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
			PREFETCHT0(Mem{Base: tmp, Index: ro, Scale: 1, Disp: 2 * vb})
			PREFETCHT0(Mem{Base: tmp, Index: ro, Scale: 1, Disp: 3 * vb})
		}
		for _, x := range gx {
			X := a.vec()
			MOVQ(m(A, bDelta), tmp)
			VMOVUPS(Mem{Base: tmp, Index: ro, Scale: 1, Disp: x * vb}, X)
			MOVQ(m(A, bBias), tmp)
			VADDPS(Mem{Base: tmp, Index: off, Scale: 1, Disp: x * vb}, X, X)
			DT, SD := a.softplusSigmoid(X)
			VMOVUPS(DT, m(pd, (x*dtsN+dtsDT)*vb))
			VMOVUPS(SD, m(pd, (x*dtsN+dtsSD)*vb))
		}
		MOVQ(m(A, bZ), tmp)
		TESTQ(tmp, tmp)
		JZ(LabelRef("pre_nogate"))
		for _, x := range gx {
			Zv := a.vec()
			VMOVUPS(Mem{Base: tmp, Index: ro, Scale: 1, Disp: x * vb}, Zv)
			SZ := a.sigmoid(Zv)
			VMOVUPS(SZ, m(pd, (x*dtsN+dtsSZ)*vb))
		}
		Label("pre_nogate")
		ADDQ(U32(2*dtsN*vb), pd)
		INCQ(t)
		CMPQ(t, m(A, bSteps))
		JL(LabelRef("pre_t"))
	}
	// 3. Recompute Ā, h and the ungated y over the chunk.
	MOVQ(U32(0), m(A, bT))
	Label("rc_t")
	{
		t, ro, off, tmp, pd := GP64(), GP64(), GP64(), GP64(), GP64()
		rs, gs := GP64(), GP64() // bytes per time row of hsda (N·4·vb); between the groups' grp tables (N·S·vb)
		MOVQ(m(A, bT), t)
		CMPQ(t, m(A, bSteps))
		JGE(LabelRef("rc_done"))
		MOVQ(m(A, bOff), off)
		MOVQ(t, ro)
		IMULQ(m(A, bLdd), ro)
		ADDQ(off, ro)
		MOVQ(t, pd)
		IMUL3Q(U32(2*dtsN*vb), pd, pd)
		ADDQ(m(A, bDts), pd)
		DT, DTU := make([]VecVirtual, 2), make([]VecVirtual, 2)
		Ys := make([][]VecVirtual, 2)
		for _, x := range gx {
			DT[x], DTU[x] = a.vec(), a.vec()
			VMOVUPS(m(pd, (x*dtsN+dtsDT)*vb), DT[x])
			MOVQ(m(A, bU), tmp)
			VMULPS(Mem{Base: tmp, Index: ro, Scale: 1, Disp: x * vb}, DT[x], DTU[x])
			Ys[x] = []VecVirtual{a.vec(), a.vec()}
			VXORPS(Ys[x][0], Ys[x][0], Ys[x][0])
			VXORPS(Ys[x][1], Ys[x][1], Ys[x][1])
		}
		prev, cur, pat, pbm, pcm, ncnt := GP64(), GP64(), GP64(), GP64(), GP64(), GP64()
		MOVQ(m(A, bN), rs)
		SHLQ(U8(log2(4*vb)), rs)
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
		MOVQ(m(A, bN), gs)
		IMUL3Q(U32(S*vb), gs, gs)
		MOVQ(m(A, bGrp), pat)
		ADDQ(m(A, bGoff), pat)
		a.bcRows(v, A, t, pbm, pcm)
		// The A′, B, C of group x at n: pat (+ gs for the second group).
		gm := func(x, disp int) Mem {
			if x == 0 {
				return m(pat, disp)
			}
			return Mem{Base: pat, Index: gs, Scale: 1, Disp: disp}
		}
		body := func(clamp bool) func(u int) {
			return func(u int) {
				for k := 0; k < u; k++ {
					E := make([]VecVirtual, 2)
					for _, x := range gx {
						E[x] = a.vec()
						VMULPS(gm(x, S*vb*k), DT[x], E[x])
					}
					P := a.exp2T(E, clamp)
					var Bv, Cv VecVirtual
					if !v.pb {
						Bv = a.vec()
						VBROADCASTSS(m(pbm, 4*k), Bv)
					}
					if !v.pc {
						Cv = a.vec()
						VBROADCASTSS(m(pcm, 4*k), Cv)
					}
					for _, x := range gx {
						c := 4*vb*k + 2*vb*x
						VMOVUPS(P[x], m(cur, c+vb)) // Ā[t]
						HB := a.vec()
						if v.pb {
							VMULPS(gm(x, (S*k+sB)*vb), DTU[x], HB)
						} else {
							VMULPS(Bv, DTU[x], HB)
						}
						VFMADD231PS(m(prev, c), P[x], HB)
						VMOVUPS(HB, m(cur, c)) // h[t]
						if v.pc {
							VFMADD231PS(gm(x, (S*k+sC)*vb), HB, Ys[x][k])
						} else {
							VFMADD231PS(Cv, HB, Ys[x][k])
						}
					}
				}
				ADDQ(U32(4*vb*u), prev)
				ADDQ(U32(4*vb*u), cur)
				ADDQ(U32(S*vb*u), pat)
				a.bcAdvance(v, u, pbm, pcm)
			}
		}
		// Without the clamps of 2^x when Δ·max_n |A′[d, n]| ≤ 4012 in
		// every lane of both groups, as in the forward (the same results).
		{
			kk, k1 := K(), K()
			for _, x := range gx {
				M := a.vec()
				MOVQ(m(A, bAmax), tmp)
				VMULPS(Mem{Base: tmp, Index: off, Scale: 1, Disp: x * vb}, DT[x], M)
				if x == 0 {
					VCMPPS(U8(0x12), a.mem("bnd"), M, kk)
				} else {
					VCMPPS(U8(0x12), a.mem("bnd"), M, k1)
				}
			}
			KANDW(k1, kk, kk)
			KORTESTW(kk, kk)
			JCS(LabelRef("rc_fast"))
		}
		nLoop("rc_n", m(A, bN), ncnt, 2, body(true))
		JMP(LabelRef("rc_n_end"))
		Label("rc_fast")
		nLoop("rcf_n", m(A, bN), ncnt, 2, body(false))
		Label("rc_n_end")
		for _, x := range gx {
			VADDPS(Ys[x][1], Ys[x][0], Ys[x][0])
			MOVQ(m(A, bU), tmp)
			Uv := a.vec()
			VMOVUPS(Mem{Base: tmp, Index: ro, Scale: 1, Disp: x * vb}, Uv)
			MOVQ(m(A, bSkip), tmp)
			VFMADD231PS(Mem{Base: tmp, Index: off, Scale: 1, Disp: x * vb}, Uv, Ys[x][0])
			VMOVUPS(Ys[x][0], m(pd, (x*dtsN+dtsY)*vb))
		}
		INCQ(m(A, bT))
		JMP(LabelRef("rc_t"))
	}
	Label("rc_done")

	// 4. Adjoint recurrence, t from steps−1 down to 0.
	Label("bw_t")
	{
		t, ro, off, tmp, pd := a.adjointStep(A, 2)
		rs := GP64()
		GY, U, DT, DTU := make([]VecVirtual, 2), make([]VecVirtual, 2), make([]VecVirtual, 2), make([]VecVirtual, 2)
		row := func(x int) Mem { return Mem{Base: tmp, Index: ro, Scale: 1, Disp: x * vb} }
		for _, x := range gx {
			GY[x], U[x], DT[x] = a.vec(), a.vec(), a.vec()
			MOVQ(m(A, bDY), tmp)
			VMOVUPS(row(x), GY[x])
			MOVQ(m(A, bU), tmp)
			VMOVUPS(row(x), U[x])
			VMOVUPS(m(pd, (x*dtsN+dtsDT)*vb), DT[x])
		}
		// Gate: dz = gy·y·σ·(1 + z·(1−σ)), then gy·silu(z).
		MOVQ(m(A, bZ), tmp)
		TESTQ(tmp, tmp)
		JZ(LabelRef("bw_nogate"))
		{
			Zv, Sg := make([]VecVirtual, 2), make([]VecVirtual, 2)
			for _, x := range gx {
				Zv[x], Sg[x] = a.vec(), a.vec()
				VMOVUPS(row(x), Zv[x])
				VMOVUPS(m(pd, (x*dtsN+dtsSZ)*vb), Sg[x])
			}
			MOVQ(m(A, bDZ), tmp)
			TESTQ(tmp, tmp)
			JZ(LabelRef("bw_nodz"))
			for _, x := range gx {
				T1 := a.vec()
				VMOVUPS(a.mem("one"), T1)
				VSUBPS(Sg[x], T1, T1)
				VFMADD213PS(a.mem("one"), Zv[x], T1)
				VMULPS(Sg[x], T1, T1)
				VMULPS(m(pd, (x*dtsN+dtsY)*vb), T1, T1)
				VMULPS(GY[x], T1, T1)
				VMOVUPS(T1, row(x))
			}
			Label("bw_nodz")
			for _, x := range gx {
				VMULPS(Zv[x], Sg[x], Sg[x])
				VMULPS(Sg[x], GY[x], GY[x])
			}
		}
		Label("bw_nogate")
		{
			p := GP64()
			MOVQ(m(A, bGacc), p)
			LEAQ(Mem{Base: p, Index: off, Scale: 2}, p)
			for _, x := range gx {
				V := a.vec()
				VMOVUPS(m(p, 2*vb*x), V)
				VFMADD231PS(GY[x], U[x], V) // dD += gy·u
				VMOVUPS(V, m(p, 2*vb*x))
			}
		}
		S1s, DDTs := make([][]VecVirtual, 2), make([][]VecVirtual, 2)
		for _, x := range gx {
			DTU[x] = a.vec()
			VMULPS(U[x], DT[x], DTU[x])
			S1s[x] = []VecVirtual{a.vec(), a.vec()}
			DDTs[x] = []VecVirtual{a.vec(), a.vec()}
			for _, r := range append(S1s[x], DDTs[x]...) {
				VXORPS(r, r, r)
			}
		}
		{
			cur, prev, pcb, pg, pbm, pcm, ncnt, gs := GP64(), GP64(), GP64(), GP64(), GP64(), GP64(), GP64(), GP64()
			MOVQ(m(A, bN), rs)
			SHLQ(U8(log2(2*vb)), rs) // pcb rows: N·2·vb
			MOVQ(t, pcb)
			IMULQ(rs, pcb)
			ADDQ(m(A, bPcb), pcb)
			SHLQ(U8(1), rs) // hsda rows: N·4·vb
			MOVQ(t, prev)
			IMULQ(rs, prev)
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
			MOVQ(m(A, bN), gs)
			IMUL3Q(U32(S*vb), gs, gs)
			MOVQ(m(A, bGrp), pg)
			ADDQ(m(A, bGoff), pg)
			a.bcRows(v, A, t, pbm, pcm)
			gm := func(x, disp int) Mem {
				if x == 0 {
					return m(pg, disp)
				}
				return Mem{Base: pg, Index: gs, Scale: 1, Disp: disp}
			}
			// With init, the first pair of the call starts the sums of pcb
			// from zero instead of loading them (the caller need not clear
			// pcb).
			body := func(init bool) func(u int) {
				return func(u int) {
					for k := 0; k < u; k++ {
						g3 := S * vb * k
						var Bv, Cv, PC, PB VecVirtual
						if !v.pc {
							Cv = a.vec()
							VBROADCASTSS(m(pcm, 4*k), Cv)
							// dC: pc += gy·h[t], group x then x+1, lane-wise
							// across groups in pcb.
							PC = a.vec()
							if init {
								VXORPS(PC, PC, PC)
							} else {
								VMOVUPS(m(pcb, 2*vb*k), PC)
							}
							for _, x := range gx {
								VFMADD231PS(m(cur, 4*vb*k+2*vb*x), GY[x], PC)
							}
							VMOVUPS(PC, m(pcb, 2*vb*k))
						}
						if !v.pb {
							Bv = a.vec()
							VBROADCASTSS(m(pbm, 4*k), Bv)
							PB = a.vec()
							if init {
								VXORPS(PB, PB, PB)
							} else {
								VMOVUPS(m(pcb, 2*vb*k+vb), PB)
							}
						}
						for _, x := range gx {
							c := 4*vb*k + 2*vb*x
							DHN, X, DAC := a.vec(), a.vec(), a.vec()
							if v.pc {
								// dC per channel over the chunk, in grp.
								H, PCx := a.vec(), a.vec()
								VMOVUPS(m(cur, c), H)
								VMOVUPS(gm(x, g3+sDC*vb), PCx)
								VFMADD231PS(H, GY[x], PCx)
								VMOVUPS(PCx, gm(x, g3+sDC*vb))
							}
							// dh = dh + gy·C
							VMOVUPS(gm(x, g3+vb), DHN)
							if v.pc {
								VFMADD231PS(gm(x, g3+sC*vb), GY[x], DHN)
							} else {
								VFMADD231PS(Cv, GY[x], DHN)
							}
							// dB: pb += dh·Δu
							if v.pb {
								PBx := a.vec()
								VMOVUPS(gm(x, g3+sDB*vb), PBx)
								VFMADD231PS(DHN, DTU[x], PBx)
								VMOVUPS(PBx, gm(x, g3+sDB*vb))
								VFMADD231PS(gm(x, g3+sB*vb), DHN, S1s[x][k])
							} else {
								VFMADD231PS(DHN, DTU[x], PB)
								VFMADD231PS(Bv, DHN, S1s[x][k])
							}
							// dh[t−1] = dh·Ā; x = dh·Ā·h[t−1]; dΔ += x·A; dA += x·Δ
							VMULPS(m(cur, c+vb), DHN, DHN)
							VMOVUPS(DHN, gm(x, g3+vb))
							VMULPS(m(prev, c), DHN, X)
							VFMADD231PS(gm(x, g3), X, DDTs[x][k])
							VMOVUPS(gm(x, g3+2*vb), DAC)
							VFMADD231PS(X, DT[x], DAC)
							VMOVUPS(DAC, gm(x, g3+2*vb))
						}
						if !v.pb {
							VMOVUPS(PB, m(pcb, 2*vb*k+vb))
						}
					}
					ADDQ(U32(4*vb*u), cur)
					ADDQ(U32(4*vb*u), prev)
					if !v.pb || !v.pc {
						ADDQ(U32(2*vb*u), pcb)
					}
					ADDQ(U32(S*vb*u), pg)
					a.bcAdvance(v, u, pbm, pcm)
				}
			}
			if !v.pb || !v.pc {
				CMPQ(m(A, bInit), U32(0))
				JE(LabelRef("bw_noinit"))
				CMPQ(m(A, bOff), U32(0))
				JNE(LabelRef("bw_noinit"))
				nLoop("bwi_n", m(A, bN), ncnt, 2, body(true))
				JMP(LabelRef("bw_n_end"))
				Label("bw_noinit")
			}
			nLoop("bw_n", m(A, bN), ncnt, 2, body(false))
			Label("bw_n_end")
		}
		for _, x := range gx {
			VADDPS(S1s[x][1], S1s[x][0], S1s[x][0])
			VADDPS(DDTs[x][1], DDTs[x][0], DDTs[x][0])
		}
		// A reset at t: no gradient flows to h[t−1].
		MOVQ(m(A, bReset), tmp)
		TESTQ(tmp, tmp)
		JZ(LabelRef("bw_noreset2"))
		MOVQ(m(A, bT), t)
		MOVBLZX(mi(tmp, t), ro.As32())
		TESTL(ro.As32(), ro.As32())
		JZ(LabelRef("bw_noreset2"))
		{
			pg, ncnt, gs := GP64(), GP64(), GP64()
			MOVQ(m(A, bN), gs)
			IMUL3Q(U32(S*vb), gs, gs)
			MOVQ(m(A, bGrp), pg)
			ADDQ(m(A, bGoff), pg)
			MOVQ(m(A, bN), ncnt)
			zv := a.vec()
			VXORPS(zv, zv, zv)
			Label("bw_zero")
			VMOVUPS(zv, m(pg, vb))
			VMOVUPS(zv, Mem{Base: pg, Index: gs, Scale: 1, Disp: vb})
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
		for _, x := range gx {
			DU, SK := a.vec(), a.vec()
			MOVQ(m(A, bSkip), t)
			VMOVUPS(Mem{Base: t, Index: off, Scale: 1, Disp: x * vb}, SK)
			VMULPS(SK, GY[x], DU)
			VFMADD231PS(S1s[x][0], DT[x], DU)
			VMOVUPS(DU, row(x))
		}
		Label("bw_nodu")
		// dΔraw = (u·S1 + ln2·Σ x·A′)·σ(delta + bias)
		for _, x := range gx {
			DDT := DDTs[x][0]
			VMULPS(a.mem("ln2hi32"), DDT, DDT) // A′ carries the factor 32
			VFMADD231PS(S1s[x][0], U[x], DDT)
			VMULPS(m(pd, (x*dtsN+dtsSD)*vb), DDT, DDT)
		}
		{
			p := GP64()
			MOVQ(m(A, bGacc), p)
			LEAQ(Mem{Base: p, Index: off, Scale: 2}, p)
			for _, x := range gx {
				V := a.vec()
				VMOVUPS(m(p, 2*vb*x+vb), V)
				VADDPS(DDTs[x][0], V, V) // dbias += dΔraw
				VMOVUPS(V, m(p, 2*vb*x+vb))
			}
		}
		MOVQ(m(A, bDDelta), tmp)
		TESTQ(tmp, tmp)
		JZ(LabelRef("bw_t"))
		for _, x := range gx {
			VMOVUPS(DDTs[x][0], row(x))
		}
		JMP(LabelRef("bw_t"))
	}
	Label("bw_done")
	bwdNextGroups(A, 2*vb, S) // next pair
	VZEROUPPER()
	RET()
}

// laneSumSet emits scanLaneSumSet<ISA>(db, dc, src *float32, steps, n
// int): laneSumAdd's lane sums of the (dC, dB) vector pairs at src, plus
// zero, stored to the rows db[t·n:] and dc[t·n:] (the gradients
// themselves, (B, L, N)) instead of added to a partial sum: laneSumAdd on
// a zeroed row, then added to a zeroed gradient (Backward's reduction),
// gives those bits.
func (a *scanISA) laneSumSet() {
	name := "scanLaneSumSet" + a.name
	TEXT(name, NOSPLIT, "func(db, dc, src *float32, steps, n int)")
	Pragma("noescape")
	Doc(name + " stores the lane sums (plus zero) of the (dC, dB) vector pairs at src to the rows of dc and db, for steps rows of n pairs.")
	db := Load(Param("db"), GP64())
	dc := Load(Param("dc"), GP64())
	src := Load(Param("src"), GP64())
	t := Load(Param("steps"), GP64())
	n := Load(Param("n"), GP64())
	TESTQ(t, t)
	JZ(LabelRef("done"))
	TESTQ(n, n)
	JZ(LabelRef("done"))
	IMULQ(n, t) // rows of n pairs, one after the other in db and dc
	zero := XMM()
	VXORPS(zero, zero, zero)
	Label("loop")
	for k, dst := range []Register{dc, db} {
		x := a.laneSum1(m(src, k*a.vb()))
		VADDSS(zero, x, x)
		VMOVSS(x, m(dst, 0))
	}
	ADDQ(U32(2*a.vb()), src)
	ADDQ(U32(4), db)
	ADDQ(U32(4), dc)
	DECQ(t)
	JNZ(LabelRef("loop"))
	Label("done")
	VZEROUPPER()
	RET()
}
