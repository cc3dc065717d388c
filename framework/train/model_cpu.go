package train

import "github.com/mambakit/mambakit/framework/backbone"

// cpuModel is a backbone.Model and its optimizer on the CPU: the host
// model is the device model, so Sync has nothing to do.
type cpuModel struct {
	m   *backbone.Model
	opt *backbone.AdamW
}

func (c *cpuModel) Config() *backbone.Config { return &c.m.Config }

func (c *cpuModel) NewState(B int) (State, error) { return c.m.NewState(B), nil }

func (c *cpuModel) Forward(b *backbone.Batch, st State) (float64, error) {
	var hs *backbone.State
	if st != nil {
		hs = st.(*backbone.State)
	}
	return c.m.Forward(b, hs)
}

func (c *cpuModel) Logits() ([]float32, error) { return c.m.Logits(), nil }
func (c *cpuModel) ZeroGrad() error            { c.m.ZeroGrad(); return nil }

func (c *cpuModel) Backward() error {
	_, err := c.m.Backward()
	return err
}

func (c *cpuModel) ScaleGrads(f float32) error {
	c.m.ScaleGrads(f)
	return nil
}

func (c *cpuModel) ClipGrad(maxNorm float64) (float64, error) { return c.m.ClipGrad(maxNorm), nil }

func (c *cpuModel) Step(lr float64) error {
	if c.opt == nil {
		return errNoOptimizer
	}
	c.opt.Step(lr)
	return nil
}

func (c *cpuModel) NewStepper(B int) (backbone.Stepper, error) { return c.m.NewStepper(B), nil }
func (c *cpuModel) StepRows() int                              { return 0 } // any number
func (c *cpuModel) Sync() error                                { return nil }
func (c *cpuModel) Close() error                               { return nil }
