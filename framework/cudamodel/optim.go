package cudamodel

import (
	"fmt"
	"math"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/cudakernels"
)

// The gradients' scale factors are kept, not applied: ScaleGrads and
// ClipGrad record their factor (g.gradScale, at most two), GradNorm and
// Step read the gradients through them (each product rounded to float32,
// as scaling in place would), and whatever reads the gradients otherwise
// (Backward, which adds to them, Grads, Download, the hooks' GradPtr
// through Backward) applies them first (settleGrads). A step then reads
// and writes the parameters once: no pass of its own for the mean over
// micro-batches or for clipping, and AdamW writes the bfloat16 copy.

// scaleGrads records f as a factor of the gradients (applying those
// recorded first when two are already waiting: the kernels take two).
func (g *Model) scaleGrads(f float32) error {
	if f == 1 {
		return nil
	}
	if len(g.gradScale) == 2 {
		if err := g.settleGrads(); err != nil {
			return err
		}
	}
	g.gradScale = append(g.gradScale, f)
	return nil
}

// settleGrads applies the recorded factors to the gradients, in order.
func (g *Model) settleGrads() error {
	for len(g.gradScale) > 0 {
		if err := g.dev.Scale(g.grads.Ptr(), g.gradScale[0], g.lay.total); err != nil {
			return err
		}
		g.gradScale = g.gradScale[1:]
	}
	return nil
}

// GradNorm returns the L2 norm of all gradients (squares summed in
// float64). It waits for the device.
func (g *Model) GradNorm() (float64, error) {
	s, err := g.dev.SumSquares(g.grads.Ptr(), g.lay.total, g.gradScale...)
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
		if err := g.scaleGrads(float32(maxNorm / n)); err != nil {
			return n, err
		}
	}
	return n, nil
}

// Step applies one AdamW update with learning rate lr (the schedule's
// value for this step) from the gradients, with c's hyperparameters and
// backbone.AdamW's semantics: decoupled weight decay on the embeddings and
// the projection and conv weights only, bias-corrected moments. The
// moments live on the device, allocated (zero) on the first step. Under
// bf16 the same pass writes the parameters' bfloat16 copy.
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
	// The bfloat16 copy, when the products read one and it is up to date
	// (not after an Upload), is written by the step itself; else the next
	// use makes it again.
	b16 := g.bf16 && g.b16.params != nil && g.b16.fresh
	g.paramsChanged()
	ac := cudakernels.AdamW{Beta1: c.Beta1, Beta2: c.Beta2, Eps: c.Eps, WeightDecay: c.WeightDecay}
	for _, s := range g.lay.spans {
		sp := cudakernels.AdamWSpan{P: g.params.At(s.lo), G: g.grads.At(s.lo), M: g.mom1.At(s.lo), V: g.mom2.At(s.lo),
			N: s.hi - s.lo, Decay: s.decay, GradScale: g.gradScale}
		if b16 {
			sp.P16 = g.weightBF16(sp.P)
		}
		if err := g.dev.AdamWStep(sp, ac, g.steps, lr); err != nil {
			return err
		}
	}
	if b16 {
		g.b16.fresh = true
		g.b16.ver++
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
// micro-batches): recorded, and applied where the gradients are read.
func (g *Model) ScaleGrads(f float32) error { return g.scaleGrads(f) }
