package backbone

import (
	"math"

	"github.com/mambakit/mambakit/framework/kernels"
)

// AdamWConfig holds the AdamW hyperparameters (Loshchilov and Hutter 2019,
// as torch.optim.AdamW): decoupled weight decay, bias-corrected moments.
type AdamWConfig struct {
	LR, Beta1, Beta2, Eps, WeightDecay float64
}

// AdamW is the optimizer state: the first and second moments in the
// parameters' layout, and the step count.
type AdamW struct {
	Config AdamWConfig
	T      int     // steps taken
	M, V   *Params // first and second moments
	model  *Model
	spans  []span // ranges of Params.Data and whether they decay
}

type span struct {
	lo, hi int
	decay  bool
}

// NewAdamW returns an optimizer for m. Weight decay applies to the
// embeddings and the projection and conv weights, not to A_log, D, the norm
// weights or the biases (as state-spaces/mamba's training recipes).
func NewAdamW(m *Model, c AdamWConfig) *AdamW {
	o := &AdamW{Config: c, M: NewParams(&m.Config), V: NewParams(&m.Config), model: m}
	off := 0
	for _, f := range fields {
		n := fieldLen(&m.Config, f)
		o.spans = append(o.spans, span{off, off + n, f.decay})
		off += n
	}
	return o
}

// Step applies one update with learning rate lr (the schedule's value for
// this step) from the model's gradients.
func (o *AdamW) Step(lr float64) {
	o.T++
	o.model.paramsChanged()
	c := o.Config
	b1, b2 := float32(c.Beta1), float32(c.Beta2)
	bc1 := 1 - math.Pow(c.Beta1, float64(o.T))
	bc2 := 1 - math.Pow(c.Beta2, float64(o.T))
	stepSize := float32(lr / bc1)
	sqrtBC2 := float32(math.Sqrt(bc2))
	eps := float32(c.Eps)
	p, g := o.model.Params.Data, o.model.Grads.Data
	mm, vv := o.M.Data, o.V.Data
	for _, s := range o.spans {
		decay := float32(1)
		if s.decay {
			decay = float32(1 - lr*c.WeightDecay)
		}
		kernels.AdamWUpdate(p[s.lo:s.hi], g[s.lo:s.hi], mm[s.lo:s.hi], vv[s.lo:s.hi], b1, b2, decay, stepSize, sqrtBC2, eps)
	}
}

// GradNorm returns the L2 norm of all gradients, summed in float64 in
// layout order.
func (m *Model) GradNorm() float64 {
	if m.Grads == nil {
		return 0
	}
	var s float64
	for _, v := range m.Grads.Data {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s)
}

// ClipGrad scales the gradients so their L2 norm is at most maxNorm and
// returns the norm before clipping.
func (m *Model) ClipGrad(maxNorm float64) float64 {
	n := m.GradNorm()
	if n > maxNorm && n > 0 {
		m.ScaleGrads(float32(maxNorm / n))
	}
	return n
}

// ScaleGrads multiplies the gradients by f (the mean over accumulated
// micro-batches: f = 1/micro-batches).
func (m *Model) ScaleGrads(f float32) {
	for i := range m.Grads.Data {
		m.Grads.Data[i] *= f
	}
}
