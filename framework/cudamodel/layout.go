package cudamodel

import (
	"unsafe"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/cuda"
)

// layout holds the offset (in floats) of every field of backbone.Params in
// its flat Data, read from the views of a host Params, and the AdamW spans.
type layout struct {
	total int
	nL    int
	// offsets and lengths (all layers) of each field; length 0: absent.
	embed, norm, inProj, convW, convB, xProj, dtW, dtB, aLog, dskip, outProj, normF,
	bParam, cParam, aImag, bImag, cImag field
	spans []span // contiguous ranges and whether AdamW decays them
}

type field struct{ off, n int }

type span struct {
	lo, hi int
	decay  bool
}

func offsetOf(p *backbone.Params, v []float32) field {
	if len(v) == 0 {
		return field{}
	}
	off := (uintptr(unsafe.Pointer(unsafe.SliceData(v))) - uintptr(unsafe.Pointer(unsafe.SliceData(p.Data)))) / 4
	return field{int(off), len(v)}
}

func newLayout(m *backbone.Model) *layout {
	p := m.Params
	l := &layout{total: len(p.Data), nL: m.Config.NumHiddenLayers}
	for _, x := range []struct {
		f *field
		v []float32
	}{{&l.embed, p.Embed}, {&l.norm, p.Norm}, {&l.inProj, p.InProj}, {&l.convW, p.ConvW}, {&l.convB, p.ConvB},
		{&l.xProj, p.XProj}, {&l.dtW, p.DtW}, {&l.dtB, p.DtB}, {&l.aLog, p.ALog}, {&l.dskip, p.Dskip},
		{&l.outProj, p.OutProj}, {&l.normF, p.NormF}, {&l.bParam, p.BParam}, {&l.cParam, p.CParam},
		{&l.aImag, p.AImag}, {&l.bImag, p.BImag}, {&l.cImag, p.CImag}} {
		*x.f = offsetOf(p, x.v)
	}
	// Spans from the tensors' decay flags, adjacent ranges of the same
	// flag merged.
	for _, t := range p.Tensors(&m.Config) {
		f := offsetOf(p, t.Data)
		if k := len(l.spans) - 1; k >= 0 && l.spans[k].hi == f.off && l.spans[k].decay == t.Decay {
			l.spans[k].hi += f.n
			continue
		}
		l.spans = append(l.spans, span{f.off, f.off + f.n, t.Decay})
	}
	return l
}

// at is the device address of field f (whole) in buffer b, or 0 when the
// field is absent.
func at(b *cuda.Buffer, f field) cuda.DevPtr {
	if f.n == 0 {
		return 0
	}
	return b.At(f.off)
}

// lay is the device address of layer i of per-layer field f in b, or 0
// when the field is absent.
func (l *layout) lay(b *cuda.Buffer, f field, i int) cuda.DevPtr {
	if f.n == 0 {
		return 0
	}
	return b.At(f.off + i*(f.n/l.nL))
}

// f4 is the address of float32 i of the buffer at p.
func f4(p cuda.DevPtr, i int) cuda.DevPtr { return p + cuda.DevPtr(4*i) }
