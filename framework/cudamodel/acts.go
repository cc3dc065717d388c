package cudamodel

import (
	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/cuda"
	"github.com/mambakit/mambakit/framework/cudakernels"
)

// acts are the device buffers of one batch shape (B, L), M = B·L rows:
// what Forward keeps for Backward (the same tensors as backbone's acts)
// and Backward's scratch. All live in one allocation, each a view by
// offset.
//
// A block's activations (every per-layer buffer but resid) are kept for
// every layer, or with recompute for one: the slot of layer l
// (slot(l)) is then the same for all, Forward leaves the last block's
// there, and Backward runs each earlier block's forward again from its
// input (resid, kept for every layer) before that block's backward.
type acts struct {
	B, L      int
	bf16      bool // the bfloat16 operands below exist (bf16 precision)
	recompute bool // one slot of block activations (SetRecompute)
	buf       *cuda.Buffer

	ids, targets, reset cuda.DevPtr // int32 (M), int32 (M), bytes (M)
	hasReset, hasTarget bool
	count               int                     // targets counted in the loss
	state               *State                  // the state the last Forward carried (nil: none)
	stateIn             int                     // which of its copies the batch started from
	index               *cudakernels.EmbedIndex // the batch's rows grouped by id

	// Below, S is the number of slots: nL, or 1 with recompute.
	resid, rstd, xn           cuda.DevPtr // (nL+1, M, D), (S, M), (S, M, D)
	xin, z, conv, u, dtRaw, y cuda.DevPtr // (S, M, Din) each
	dtLow                     cuda.DevPtr // (S, M, R)
	bm, cm                    cuda.DevPtr // (S, cf·M·N)
	saved                     cuda.DevPtr // (S, savedLen)
	a                         cuda.DevPtr // (S, Din, N)
	rstdF, xnF, logits        cuda.DevPtr // (M), (M, D), (M, V)
	xstats                    cuda.DevPtr // (M, 2) float64: each row's max and sum of exponentials (cudakernels.XEnt.Stats)
	xdbl                      cuda.DevPtr // (M, S): x_proj's output (forward), its gradient (backward)
	savedLen                  int
	u16, y16                  cuda.DevPtr // (S, M, Din) bfloat16: u, y as the products read them (bf16 only)
	xn16, xnF16               cuda.DevPtr // (S, M, D), (M, D) bfloat16: xn, xnF as the products read them (bf16 only)
	dResid16                  cuda.DevPtr // (M, D) bfloat16: dResid as out_proj's products read it (bf16 only)

	// Backward's scratch.
	dlogits                       cuda.DevPtr // (M, V): float32, or bfloat16 in bf16 precision
	dxnF, dResid, dXn             cuda.DevPtr // (M, D)
	dY, dU, dDt, dZ, dXin         cuda.DevPtr // (M, Din); dDt, dZ, dXin bfloat16 in bf16 precision
	dDtLow                        cuda.DevPtr // (M, R)
	dBm, dCm, dBmI, dCmI          cuda.DevPtr // (M, N)
	dA, dBp, dCp, dAI, dBpI, dCpI cuda.DevPtr // (Din, N)
	dSkip, dBias, dConvB          cuda.DevPtr // (Din)
	dConvW                        cuda.DevPtr // (Din, K)
}

// dims are the sizes of c, named as in backbone's glossary.
func dims(c *backbone.Config) (V, D, Din, N, R, K, nL int) {
	return c.VocabSize, c.HiddenSize, c.IntermediateSize, c.StateSize, int(c.TimeStepRank), c.ConvKernel, c.NumHiddenLayers
}

func cf(c *backbone.Config) int {
	if c.ComplexA {
		return 2
	}
	return 1
}

// newActs allocates the buffers of a B × L batch; bf16 adds the bfloat16
// operands the convolution writes; recompute keeps one slot of block
// activations instead of one a layer.
func newActs(d *cudakernels.Device, c *backbone.Config, B, L int, bf16, recompute bool) (*acts, error) {
	V, D, Din, N, R, K, nL := dims(c)
	M := B * L
	r, nb, nc := xProjRows(c)
	a := &acts{B: B, L: L, bf16: bf16, recompute: recompute, savedLen: cudakernels.ScanSavedLen(B, L, Din, N, c.ComplexA)}
	S := nL // slots of block activations
	if recompute {
		S = 1
	}
	half, halfD := 0, 0 // float32 slots a bfloat16 operand of (M, Din), (M, D) takes
	if bf16 {
		half, halfD = (M*Din+1)/2, (M*D+1)/2
	}
	type slot struct {
		p *cuda.DevPtr
		n int
	}
	slots := []slot{
		{&a.ids, M}, {&a.targets, M}, {&a.reset, (M + 3) / 4},
		{&a.resid, (nL + 1) * M * D}, {&a.rstd, S * M}, {&a.xn, S * M * D},
		{&a.xin, S * M * Din}, {&a.z, S * M * Din}, {&a.conv, S * M * Din}, {&a.u, S * M * Din},
		{&a.dtRaw, S * M * Din}, {&a.y, S * M * Din}, {&a.dtLow, S * M * R},
		{&a.bm, S * cf(c) * M * N}, {&a.cm, S * cf(c) * M * N}, {&a.saved, S * a.savedLen},
		{&a.a, S * Din * N}, {&a.rstdF, M}, {&a.xnF, M * D}, {&a.logits, M * V}, {&a.xstats, 4 * M}, {&a.xdbl, M * (r + nb + nc)}, {&a.u16, S * half}, {&a.y16, S * half}, {&a.xn16, S * halfD}, {&a.xnF16, halfD}, {&a.dResid16, halfD},
		{&a.dlogits, M * V}, {&a.dxnF, M * D}, {&a.dResid, M * D}, {&a.dXn, M * D},
		{&a.dY, M * Din}, {&a.dU, M * Din}, {&a.dDt, M * Din}, {&a.dZ, M * Din}, {&a.dXin, M * Din},
		{&a.dDtLow, M * R}, {&a.dBm, M * N}, {&a.dCm, M * N}, {&a.dBmI, M * N}, {&a.dCmI, M * N},
		{&a.dA, Din * N}, {&a.dBp, Din * N}, {&a.dCp, Din * N}, {&a.dAI, Din * N}, {&a.dBpI, Din * N}, {&a.dCpI, Din * N},
		{&a.dSkip, Din}, {&a.dBias, Din}, {&a.dConvB, Din}, {&a.dConvW, Din * K},
	}
	total := 0
	for _, s := range slots {
		total += (s.n + 63) / 64 * 64 // 256-byte aligned views
	}
	buf, err := d.AllocF32(total)
	if err != nil {
		return nil, err
	}
	a.buf = buf
	off := 0
	for _, s := range slots {
		*s.p = buf.At(off)
		off += (s.n + 63) / 64 * 64
	}
	return a, nil
}

// slot is where layer l's block activations are: l, or 0 with
// recompute.
func (a *acts) slot(l int) int {
	if a.recompute {
		return 0
	}
	return l
}

// resets is the batch's reset flags as the kernels take them: 0 when it
// has none.
func (a *acts) resets() cuda.DevPtr {
	if a.hasReset {
		return a.reset
	}
	return 0
}

// half is the bfloat16 operand i elements into p (u16, xn16, …), or 0
// outside bf16 precision, where those buffers are empty.
func (a *acts) half(p cuda.DevPtr, i int) cuda.DevPtr {
	if !a.bf16 {
		return 0
	}
	return p + cuda.DevPtr(2*i)
}

func (a *acts) free() {
	if a != nil {
		a.buf.Free()
	}
}
