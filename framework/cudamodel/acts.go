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
type acts struct {
	B, L int
	buf  *cuda.Buffer

	ids, targets, reset cuda.DevPtr // int32 (M), int32 (M), bytes (M)
	hasReset, hasTarget bool
	count               int                     // targets counted in the loss
	state               *State                  // the state the last Forward carried (nil: none)
	stateIn             int                     // which of its copies the batch started from
	index               *cudakernels.EmbedIndex // the batch's rows grouped by id

	resid, rstd, xn           cuda.DevPtr // (nL+1, M, D), (nL, M), (nL, M, D)
	xin, z, conv, u, dtRaw, y cuda.DevPtr // (nL, M, Din) each
	dtLow                     cuda.DevPtr // (nL, M, R)
	bm, cm                    cuda.DevPtr // (nL, cf·M·N)
	saved                     cuda.DevPtr // (nL, savedLen)
	a                         cuda.DevPtr // (nL, Din, N)
	rstdF, xnF, logits        cuda.DevPtr // (M), (M, D), (M, V)
	xstats                    cuda.DevPtr // (M, 2) float64: each row's max and sum of exponentials (cudakernels.XEnt.Stats)
	xdbl                      cuda.DevPtr // (M, S): x_proj's output (forward), its gradient (backward)
	savedLen                  int

	// Backward's scratch.
	dlogits                       cuda.DevPtr // (M, V): float32, or bfloat16 in bf16 precision
	dxnF, dResid, dXn             cuda.DevPtr // (M, D)
	dY, dU, dDt, dZ, dXin, dConv  cuda.DevPtr // (M, Din)
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

func newActs(d *cudakernels.Device, c *backbone.Config, B, L int) (*acts, error) {
	V, D, Din, N, R, K, nL := dims(c)
	M := B * L
	r, nb, nc := xProjRows(c)
	a := &acts{B: B, L: L, savedLen: cudakernels.ScanSavedLen(B, L, Din, N, c.ComplexA)}
	type slot struct {
		p *cuda.DevPtr
		n int
	}
	slots := []slot{
		{&a.ids, M}, {&a.targets, M}, {&a.reset, (M + 3) / 4},
		{&a.resid, (nL + 1) * M * D}, {&a.rstd, nL * M}, {&a.xn, nL * M * D},
		{&a.xin, nL * M * Din}, {&a.z, nL * M * Din}, {&a.conv, nL * M * Din}, {&a.u, nL * M * Din},
		{&a.dtRaw, nL * M * Din}, {&a.y, nL * M * Din}, {&a.dtLow, nL * M * R},
		{&a.bm, nL * cf(c) * M * N}, {&a.cm, nL * cf(c) * M * N}, {&a.saved, nL * a.savedLen},
		{&a.a, nL * Din * N}, {&a.rstdF, M}, {&a.xnF, M * D}, {&a.logits, M * V}, {&a.xstats, 4 * M}, {&a.xdbl, M * (r + nb + nc)},
		{&a.dlogits, M * V}, {&a.dxnF, M * D}, {&a.dResid, M * D}, {&a.dXn, M * D},
		{&a.dY, M * Din}, {&a.dU, M * Din}, {&a.dDt, M * Din}, {&a.dZ, M * Din}, {&a.dXin, M * Din}, {&a.dConv, M * Din},
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

func (a *acts) free() {
	if a != nil {
		a.buf.Free()
	}
}
