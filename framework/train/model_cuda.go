package train

import (
	"errors"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/cuda"
	"github.com/mambakit/mambakit/framework/cudamodel"
)

// cudaModel is a backbone.Model placed on a GPU (framework/cudamodel),
// with the host model and optimizer it syncs back to.
type cudaModel struct {
	dev *cuda.Device
	g   *cudamodel.Model
	m   *backbone.Model
	opt *backbone.AdamW
}

// GPUCount reports how many GPUs a model can be placed on here (those
// CUDA_VISIBLE_DEVICES leaves visible); without the NVIDIA driver, an
// error that says so in one line.
func GPUCount() (int, error) { return cuda.DeviceCount() }

func newCUDAModel(m *backbone.Model, opt *backbone.AdamW, gpu int, prec backbone.Precision, recompute bool) (*cudaModel, error) {
	d, err := cuda.OpenDevice(gpu)
	if err != nil {
		return nil, err
	}
	g, err := cudamodel.New(d, m)
	if err != nil {
		d.Close()
		return nil, err
	}
	c := &cudaModel{dev: d, g: g, m: m, opt: opt}
	if err := g.SetPrecision(prec); err != nil {
		c.Close()
		return nil, err
	}
	g.SetRecompute(recompute)
	if opt != nil && opt.T > 0 { // resumed: the checkpoint's moments
		if err := g.UploadAdamW(opt); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// GPUModel returns the GPU model and device m is placed on (nil, nil when
// m is on the CPU): for what times the device's work, `bench train`'s
// phases and --ops.
func GPUModel(m Model) (*cudamodel.Model, *cuda.Device) {
	if c, ok := m.(*cudaModel); ok {
		return c.g, c.dev
	}
	return nil, nil
}

func (c *cudaModel) Config() *backbone.Config { return &c.g.Config }

func (c *cudaModel) NewState(B int) (State, error) { return c.g.NewState(B) }

func (c *cudaModel) Forward(b *backbone.Batch, st State) (float64, error) {
	var gs *cudamodel.State
	if st != nil {
		gs = st.(*cudamodel.State)
	}
	return c.g.Forward(b, gs)
}

func (c *cudaModel) Logits() ([]float32, error)                { return c.g.Logits() }
func (c *cudaModel) ZeroGrad() error                           { return c.g.ZeroGrad() }
func (c *cudaModel) Backward() error                           { return c.g.Backward() }
func (c *cudaModel) ScaleGrads(f float32) error                { return c.g.ScaleGrads(f) }
func (c *cudaModel) ClipGrad(maxNorm float64) (float64, error) { return c.g.ClipGrad(maxNorm) }

func (c *cudaModel) Step(lr float64) error {
	if c.opt == nil {
		return errNoOptimizer
	}
	return c.g.Step(c.opt.Config, lr)
}

func (c *cudaModel) NewStepper(B int) (backbone.Stepper, error) { return c.g.NewStepper(B, true) }

// StepRows is the most rows of a GPU Stepper.
func (c *cudaModel) StepRows() int { return cudamodel.MaxStepRows }

func (c *cudaModel) Sync() error {
	if err := c.g.Download(c.m); err != nil {
		return err
	}
	if c.opt == nil {
		return nil
	}
	return c.g.DownloadAdamW(c.opt)
}

func (c *cudaModel) Close() error {
	return errors.Join(c.g.Close(), c.dev.Close())
}

// Available reports whether d can run here: for CUDA, whether the driver
// loads (cuda.ErrNoDriver when there is none), without opening a GPU.
func (d Device) Available() error {
	if d != CUDA {
		return nil
	}
	_, err := cuda.DriverVersion()
	return err
}
