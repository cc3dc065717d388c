package backbone

import (
	"fmt"
	"math"
	"strconv"
)

// Params holds every parameter of the model in one flat buffer, each field a
// view into it (llm.c style). Gradients and the AdamW moments use the same
// type and layout, so zeroing them is one clear and the optimizer is one loop.
// Per-layer fields stack the layers first.
type Params struct {
	Data []float32

	Embed   []float32 // (V, D)            backbone.embeddings.weight (tied to the output head)
	Norm    []float32 // (nL, D)           layers.i.norm.weight
	InProj  []float32 // (nL, 2·Din, D)    layers.i.mixer.in_proj.weight: rows [0, Din) → x, [Din, 2Din) → z
	ConvW   []float32 // (nL, Din, 1, K)   layers.i.mixer.conv1d.weight
	ConvB   []float32 // (nL, Din)         layers.i.mixer.conv1d.bias
	XProj   []float32 // (nL, R+2N, Din)   layers.i.mixer.x_proj.weight: rows → Δ (R), B (N), C (N)
	DtW     []float32 // (nL, Din, R)      layers.i.mixer.dt_proj.weight
	DtB     []float32 // (nL, Din)         layers.i.mixer.dt_proj.bias
	ALog    []float32 // (nL, Din, N)      layers.i.mixer.A_log, A = −exp(A_log)
	Dskip   []float32 // (nL, Din)         layers.i.mixer.D
	OutProj []float32 // (nL, D, Din)      layers.i.mixer.out_proj.weight
	NormF   []float32 // (D)               backbone.norm_f.weight
	BParam  []float32 // (nL, Din, N)      layers.i.mixer.B, when B is non-selective (else empty)
	CParam  []float32 // (nL, Din, N)      layers.i.mixer.C, when C is non-selective (else empty)
	AImag   []float32 // (nL, Din, N)      layers.i.mixer.A_imag, in a complex model (else empty)
	BImag   []float32 // (nL, Din, N)      layers.i.mixer.B_imag, complex and B non-selective (else empty)
	CImag   []float32 // (nL, Din, N)      layers.i.mixer.C_imag, complex and C non-selective (else empty)
}

// field describes one parameter tensor: its Hugging Face name, its shape
// (per layer for per-layer fields), whether AdamW decays it, and where it
// lives in Params.
type field struct {
	name     string // full name, or the suffix after "backbone.layers.<i>." when perLayer
	perLayer bool
	decay    bool
	shape    func(c *Config) []int
	view     func(p *Params) *[]float32
}

// fields lists the parameters in the order of Params.Data.
var fields = []field{
	{"backbone.embeddings.weight", false, true,
		func(c *Config) []int { return []int{c.VocabSize, c.HiddenSize} }, func(p *Params) *[]float32 { return &p.Embed }},
	{"norm.weight", true, false,
		func(c *Config) []int { return []int{c.HiddenSize} }, func(p *Params) *[]float32 { return &p.Norm }},
	{"mixer.in_proj.weight", true, true,
		func(c *Config) []int { return []int{2 * c.IntermediateSize, c.HiddenSize} }, func(p *Params) *[]float32 { return &p.InProj }},
	{"mixer.conv1d.weight", true, true,
		func(c *Config) []int { return []int{c.IntermediateSize, 1, c.ConvKernel} }, func(p *Params) *[]float32 { return &p.ConvW }},
	{"mixer.conv1d.bias", true, false,
		func(c *Config) []int { return []int{c.IntermediateSize} }, func(p *Params) *[]float32 { return &p.ConvB }},
	{"mixer.x_proj.weight", true, true,
		func(c *Config) []int { r, nb, nc := c.xProjRows(); return []int{r + nb + nc, c.IntermediateSize} }, func(p *Params) *[]float32 { return &p.XProj }},
	{"mixer.dt_proj.weight", true, true,
		func(c *Config) []int { r, _, _ := c.xProjRows(); return []int{c.IntermediateSize, r} }, func(p *Params) *[]float32 { return &p.DtW }},
	{"mixer.dt_proj.bias", true, false,
		func(c *Config) []int { return []int{c.IntermediateSize} }, func(p *Params) *[]float32 { return &p.DtB }},
	{"mixer.A_log", true, false,
		func(c *Config) []int { return []int{c.IntermediateSize, c.StateSize} }, func(p *Params) *[]float32 { return &p.ALog }},
	{"mixer.D", true, false,
		func(c *Config) []int { return []int{c.IntermediateSize} }, func(p *Params) *[]float32 { return &p.Dskip }},
	{"mixer.out_proj.weight", true, true,
		func(c *Config) []int { return []int{c.HiddenSize, c.IntermediateSize} }, func(p *Params) *[]float32 { return &p.OutProj }},
	{"backbone.norm_f.weight", false, false,
		func(c *Config) []int { return []int{c.HiddenSize} }, func(p *Params) *[]float32 { return &p.NormF }},
	{"mixer.B", true, false,
		func(c *Config) []int { return []int{c.IntermediateSize, perChannel(c, "B")} }, func(p *Params) *[]float32 { return &p.BParam }},
	{"mixer.C", true, false,
		func(c *Config) []int { return []int{c.IntermediateSize, perChannel(c, "C")} }, func(p *Params) *[]float32 { return &p.CParam }},
	{"mixer.A_imag", true, false,
		func(c *Config) []int { return []int{c.IntermediateSize, complexOnly(c, c.StateSize)} }, func(p *Params) *[]float32 { return &p.AImag }},
	{"mixer.B_imag", true, false,
		func(c *Config) []int { return []int{c.IntermediateSize, complexOnly(c, perChannel(c, "B"))} }, func(p *Params) *[]float32 { return &p.BImag }},
	{"mixer.C_imag", true, false,
		func(c *Config) []int { return []int{c.IntermediateSize, complexOnly(c, perChannel(c, "C"))} }, func(p *Params) *[]float32 { return &p.CImag }},
}

// complexOnly is n in a complex model, else 0.
func complexOnly(c *Config, n int) int {
	if c.ComplexA {
		return n
	}
	return 0
}

// perChannel is N when parameter p is non-selective (a per-channel tensor
// exists), else 0 (the tensor is empty and not saved).
func perChannel(c *Config, p string) int {
	if c.selective(p) {
		return 0
	}
	return c.StateSize
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// fieldLen is the number of elements of f across all layers.
func fieldLen(c *Config, f field) int {
	n := numel(f.shape(c))
	if f.perLayer {
		n *= c.NumHiddenLayers
	}
	return n
}

// NewParams allocates zeroed parameters (or gradients, or moments) for c,
// which must be valid.
func NewParams(c *Config) *Params {
	total := 0
	for _, f := range fields {
		total += fieldLen(c, f)
	}
	p := &Params{Data: make([]float32, total)}
	off := 0
	for _, f := range fields {
		n := fieldLen(c, f)
		*f.view(p) = p.Data[off : off+n : off+n]
		off += n
	}
	return p
}

// layer returns the per-layer slice i of a per-layer field view x.
func layer(x []float32, nL, i int) []float32 {
	n := len(x) / nL
	return x[i*n : (i+1)*n]
}

// tensorName returns the Hugging Face name of field f in layer i.
func tensorName(f field, i int) string {
	if !f.perLayer {
		return f.name
	}
	return "backbone.layers." + strconv.Itoa(i) + "." + f.name
}

// Tensor is a named view of one parameter tensor in Hugging Face's naming.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
	Decay bool // AdamW applies weight decay to it
}

// Tensors lists the tensors of p (parameters or gradients) under their
// Hugging Face names, in layout order; Data aliases p. Empty tensors (those
// of a variant the model does not use) are left out.
func (p *Params) Tensors(c *Config) []Tensor {
	var out []Tensor
	for _, f := range fields {
		v := *f.view(p)
		if len(v) == 0 {
			continue
		}
		if !f.perLayer {
			out = append(out, Tensor{f.name, f.shape(c), v, f.decay})
			continue
		}
		for i := 0; i < c.NumHiddenLayers; i++ {
			out = append(out, Tensor{tensorName(f, i), f.shape(c), layer(v, c.NumHiddenLayers, i), f.decay})
		}
	}
	return out
}

// CheckFinite returns an error naming the first tensor (Hugging Face name)
// that holds a NaN or an infinity, and where: a model with one would
// evaluate to NaN and generate garbage without a word.
func (p *Params) CheckFinite(c *Config) error {
	for _, t := range p.Tensors(c) {
		for i, v := range t.Data {
			if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
				return fmt.Errorf("tensor %s holds %v at index %d: the weights are not finite", t.Name, v, i)
			}
		}
	}
	return nil
}
