package cudamodel

import (
	"errors"
	"fmt"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/cuda"
	"github.com/mambakit/mambakit/framework/cudakernels"
)

// Model is a backbone.Model on a GPU: parameters, gradients and the AdamW
// moments as device buffers in backbone.Params' flat layout, and the
// activations of the last batch shape.
type Model struct {
	Config backbone.Config

	dev  *cudakernels.Device
	blas *cuda.BLAS
	lay  *layout

	params, grads *cuda.Buffer
	mom1, mom2    *cuda.Buffer // AdamW moments, allocated on the first Step
	steps         int          // AdamW steps taken
	gradScale     []float32    // factors of the gradients not yet applied (ScaleGrads, ClipGrad; optim.go)

	acts *acts

	gradHook  func(layer int) error // SetGradHook
	lossDenom int                   // SetLossDenominator

	ops *opTimer // TimeOps (optimes.go); nil when off

	bf16 bool         // SetPrecision(bf16): the products read bfloat16 (products.go)
	b16  bf16Products // their bfloat16 operands

	recompute bool // SetRecompute: one block's activations kept, the others run again in Backward
}

// New uploads m's parameters to dev and allocates their gradients (zero).
func New(dev *cuda.Device, m *backbone.Model) (*Model, error) {
	if err := m.Config.Validate(); err != nil {
		return nil, err
	}
	if m.Config.ConvKernel > 16 {
		return nil, fmt.Errorf("cudamodel: conv_kernel %d: the GPU convolution takes at most 16", m.Config.ConvKernel)
	}
	if m.Config.StateSize > 64 {
		return nil, fmt.Errorf("cudamodel: state_size %d: the GPU scan takes at most 64", m.Config.StateSize)
	}
	blas, err := dev.BLAS()
	if err != nil {
		return nil, err
	}
	g := &Model{Config: m.Config, dev: cudakernels.New(dev), blas: blas, lay: newLayout(m)}
	if g.params, err = dev.UploadF32(m.Params.Data); err != nil {
		return nil, err
	}
	if g.grads, err = dev.AllocF32(len(m.Params.Data)); err != nil {
		g.Close()
		return nil, err
	}
	if err := g.ZeroGrad(); err != nil {
		g.Close()
		return nil, err
	}
	return g, nil
}

// Device returns the model's device.
func (g *Model) Device() *cuda.Device { return g.dev.Device }

// NumParams is the number of parameters.
func (g *Model) NumParams() int { return g.lay.total }

// Close frees the model's device memory.
func (g *Model) Close() error {
	var errs []error
	for _, b := range []*cuda.Buffer{g.params, g.grads, g.mom1, g.mom2} {
		if b != nil {
			errs = append(errs, b.Free())
		}
	}
	if g.acts != nil {
		errs = append(errs, g.acts.buf.Free())
		g.acts = nil
	}
	errs = append(errs, g.freeBF16()...)
	errs = append(errs, g.TimeOps(false))
	return errors.Join(errs...)
}

// SetRecompute turns activation recomputation on or off from the next
// Forward: on, Forward keeps each block's input (the residual stream) and
// the activations of one block, and Backward runs each block's forward
// again, from its input, just before that block's backward (the last
// block's are still there). The activations take about 1/nL of the
// memory's share they take otherwise, for one more forward pass of every
// block but the last; the gradients are the same bits, the kernels being
// deterministic.
func (g *Model) SetRecompute(on bool) { g.recompute = on }

// ZeroGrad clears the gradients.
func (g *Model) ZeroGrad() error {
	g.gradScale = g.gradScale[:0]
	return g.grads.Fill32(0)
}

// Download copies the parameters to m.Params (m must have g's
// configuration), and the gradients to m.Grads when m has them.
func (g *Model) Download(m *backbone.Model) error {
	if len(m.Params.Data) != g.lay.total {
		return fmt.Errorf("cudamodel: download: host model has %d parameters, the GPU model %d", len(m.Params.Data), g.lay.total)
	}
	if err := g.dev.Synchronize(); err != nil {
		return err
	}
	if err := g.params.CopyToF32(m.Params.Data); err != nil {
		return err
	}
	if m.Grads != nil {
		if err := g.settleGrads(); err != nil {
			return err
		}
		return g.grads.CopyToF32(m.Grads.Data)
	}
	return nil
}

// Upload copies m.Params to the device (after the host model was changed
// or loaded from a checkpoint).
func (g *Model) Upload(m *backbone.Model) error {
	if len(m.Params.Data) != g.lay.total {
		return fmt.Errorf("cudamodel: upload: host model has %d parameters, the GPU model %d", len(m.Params.Data), g.lay.total)
	}
	g.paramsChanged()
	return g.params.CopyFromF32(m.Params.Data)
}

// Grads returns a copy of the gradients in backbone's layout.
func (g *Model) Grads() (*backbone.Params, error) {
	p := backbone.NewParams(&g.Config)
	if err := g.settleGrads(); err != nil {
		return nil, err
	}
	if err := g.dev.Synchronize(); err != nil {
		return nil, err
	}
	return p, g.grads.CopyToF32(p.Data)
}

// Logits returns a copy of the logits (B, L, V) of the last Forward.
func (g *Model) Logits() ([]float32, error) {
	a := g.acts
	if a == nil {
		return nil, errors.New("cudamodel: no Forward yet")
	}
	x := make([]float32, a.B*a.L*g.Config.VocabSize)
	if err := g.dev.Synchronize(); err != nil {
		return nil, err
	}
	return x, g.dev.DownloadF32(x, a.logits)
}
