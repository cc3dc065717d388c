package cudamodel

import (
	"fmt"
	"math"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/cudakernels"
)

// GradNorm returns the L2 norm of all gradients (squares summed in
// float64). It waits for the device.
func (g *Model) GradNorm() (float64, error) {
	s, err := g.dev.SumSquares(g.grads.Ptr(), g.lay.total)
	return math.Sqrt(s), err
}

// ClipGrad scales the gradients so their L2 norm is at most maxNorm and
// returns the norm before clipping (backbone.Model.ClipGrad).
func (g *Model) ClipGrad(maxNorm float64) (float64, error) {
	n, err := g.GradNorm()
	if err != nil {
		return 0, err
	}
	if n > maxNorm && n > 0 {
		if err := g.dev.Scale(g.grads.Ptr(), float32(maxNorm/n), g.lay.total); err != nil {
			return n, err
		}
	}
	return n, nil
}

// Step applies one AdamW update with learning rate lr (the schedule's
// value for this step) from the gradients, with c's hyperparameters and
// backbone.AdamW's semantics: decoupled weight decay on the embeddings and
// the projection and conv weights only, bias-corrected moments. The
// moments live on the device, allocated (zero) on the first step.
func (g *Model) Step(c backbone.AdamWConfig, lr float64) error {
	if g.mom1 == nil {
		var err error
		if g.mom1, err = g.dev.AllocF32(g.lay.total); err != nil {
			return err
		}
		if g.mom2, err = g.dev.AllocF32(g.lay.total); err != nil {
			return err
		}
		if err := g.mom1.Fill32(0); err != nil {
			return err
		}
		if err := g.mom2.Fill32(0); err != nil {
			return err
		}
	}
	g.steps++
	g.paramsChanged()
	ac := cudakernels.AdamW{Beta1: c.Beta1, Beta2: c.Beta2, Eps: c.Eps, WeightDecay: c.WeightDecay}
	for _, s := range g.lay.spans {
		if err := g.dev.AdamWStep(g.params.At(s.lo), g.grads.At(s.lo), g.mom1.At(s.lo), g.mom2.At(s.lo), s.hi-s.lo,
			ac, g.steps, lr, s.decay); err != nil {
			return err
		}
	}
	return nil
}

// DownloadAdamW copies the optimizer state (moments and step count) into
// o, which must belong to a host model of g's configuration: with Download
// of the parameters, a checkpoint that resumes on either device.
func (g *Model) DownloadAdamW(o *backbone.AdamW) error {
	if len(o.M.Data) != g.lay.total {
		return fmt.Errorf("cudamodel: optimizer has %d moments, the model %d parameters", len(o.M.Data), g.lay.total)
	}
	o.T = g.steps
	if g.mom1 == nil {
		clear(o.M.Data)
		clear(o.V.Data)
		return nil
	}
	if err := g.dev.Synchronize(); err != nil {
		return err
	}
	if err := g.mom1.CopyToF32(o.M.Data); err != nil {
		return err
	}
	return g.mom2.CopyToF32(o.V.Data)
}

// UploadAdamW sets the device optimizer state from o (a resumed run).
func (g *Model) UploadAdamW(o *backbone.AdamW) error {
	if len(o.M.Data) != g.lay.total {
		return fmt.Errorf("cudamodel: optimizer has %d moments, the model %d parameters", len(o.M.Data), g.lay.total)
	}
	var err error
	if g.mom1 == nil {
		if g.mom1, err = g.dev.AllocF32(g.lay.total); err != nil {
			return err
		}
		if g.mom2, err = g.dev.AllocF32(g.lay.total); err != nil {
			return err
		}
	}
	g.steps = o.T
	if err := g.mom1.CopyFromF32(o.M.Data); err != nil {
		return err
	}
	return g.mom2.CopyFromF32(o.V.Data)
}

// Steps returns the number of AdamW steps taken.
func (g *Model) Steps() int { return g.steps }

// ScaleGrads multiplies the gradients by f (the mean over accumulated
// micro-batches).
func (g *Model) ScaleGrads(f float32) error { return g.dev.Scale(g.grads.Ptr(), f, g.lay.total) }
