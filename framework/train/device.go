package train

import (
	"context"
	"errors"
	"fmt"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/cuda"
	"github.com/mambakit/mambakit/framework/cudamodel"
)

// stepper runs the training steps of the loop on one device. The host
// model and optimizer stay the record that evaluation, sampling and
// checkpoints read: sync brings them up to date.
type stepper interface {
	zeroGrad() error
	forwardBackward(b *backbone.Batch) (float64, error) // adds the batch's gradient
	scaleGrads(f float32) error
	clip(maxNorm float64) (float64, error)
	step(lr float64) error
	sync() error // copy parameters and optimizer state to the host model
	close()
}

// newStepper returns the stepper of r.Device: "" or "cpu" (the Go kernels,
// the host model itself) or "cuda" (framework/cudamodel on GPU 0, with
// the host model's parameters and optimizer state uploaded).
func (r *Run) newStepper(ctx context.Context, m *backbone.Model, opt *backbone.AdamW, carried *backbone.State) (stepper, error) {
	if err := r.Dist.check(r.Config, r.Device); err != nil {
		return nil, err
	}
	switch r.Device {
	case "", "cpu":
		return &cpuStepper{m, opt, carried}, nil
	case "cuda":
	default:
		return nil, fmt.Errorf("device %q: want cpu or cuda", r.Device)
	}
	if carried != nil {
		return nil, errors.New("--device cuda does not carry the state across steps yet: train without --tbptt")
	}
	d, err := cuda.OpenDevice(r.Dist.localRank())
	if err != nil {
		return nil, err
	}
	g, err := cudamodel.New(d, m)
	if err != nil {
		d.Close()
		return nil, err
	}
	if err := g.SetTF32(r.TF32); err != nil {
		g.Close()
		d.Close()
		return nil, err
	}
	if opt.T > 0 { // resumed: the checkpoint's moments
		if err := g.UploadAdamW(opt); err != nil {
			g.Close()
			d.Close()
			return nil, err
		}
	}
	cs := &cudaStepper{dev: d, g: g, m: m, opt: opt}
	if r.Dist != nil && r.Dist.World > 1 {
		ds, err := newDistStepper(ctx, r.Dist, cs, r.Config.Accum, r.Out)
		if err != nil {
			cs.close()
			return nil, err
		}
		return ds, nil
	}
	return cs, nil
}

type cpuStepper struct {
	m       *backbone.Model
	opt     *backbone.AdamW
	carried *backbone.State
}

func (s *cpuStepper) zeroGrad() error { s.m.ZeroGrad(); return nil }

func (s *cpuStepper) forwardBackward(b *backbone.Batch) (float64, error) {
	l, err := s.m.Forward(b, s.carried)
	if err != nil {
		return 0, err
	}
	_, err = s.m.Backward()
	return l, err
}

func (s *cpuStepper) scaleGrads(f float32) error {
	for i := range s.m.Grads.Data {
		s.m.Grads.Data[i] *= f
	}
	return nil
}

func (s *cpuStepper) clip(maxNorm float64) (float64, error) { return s.m.ClipGrad(maxNorm), nil }
func (s *cpuStepper) step(lr float64) error                 { s.opt.Step(lr); return nil }
func (s *cpuStepper) sync() error                           { return nil }
func (s *cpuStepper) close()                                {}

type cudaStepper struct {
	dev *cuda.Device
	g   *cudamodel.Model
	m   *backbone.Model
	opt *backbone.AdamW
}

func (s *cudaStepper) zeroGrad() error { return s.g.ZeroGrad() }

func (s *cudaStepper) forwardBackward(b *backbone.Batch) (float64, error) {
	l, err := s.g.Forward(b)
	if err != nil {
		return 0, err
	}
	return l, s.g.Backward()
}

func (s *cudaStepper) scaleGrads(f float32) error {
	return s.g.ScaleGrads(f)
}

func (s *cudaStepper) clip(maxNorm float64) (float64, error) { return s.g.ClipGrad(maxNorm) }
func (s *cudaStepper) step(lr float64) error                 { return s.g.Step(s.opt.Config, lr) }

func (s *cudaStepper) sync() error {
	if err := s.g.Download(s.m); err != nil {
		return err
	}
	return s.g.DownloadAdamW(s.opt)
}

func (s *cudaStepper) close() {
	s.g.Close()
	s.dev.Close()
}
