package train

import (
	"errors"
	"fmt"
	"math"

	"github.com/mambakit/mambakit/framework/backbone"
)

// Step is one optimizer step of a Model, on either device: its gradients
// cleared, the forward and backward passes of Accum micro-batches (their
// gradients summed), their mean, the global gradient norm clipped, and
// AdamW. Run's loop and `bench train` take their steps through it.
type Step struct {
	// Accum is the micro-batches a step (0 is 1).
	Accum int
	// Clip is the largest global gradient norm (0: none).
	Clip float64
	// Batch returns micro-batch a's tokens, 0 ≤ a < Accum.
	Batch func(a int) (*backbone.Batch, error)
	// ZeroGrad and Pass, when not nil, replace the model's ZeroGrad and
	// its Forward(b, nil) then Backward: a state carried across steps, or
	// a replica's share of the batch on several GPUs (distributed). A
	// step that runs Pass marks no PhaseBackward.
	ZeroGrad func() error
	Pass     func(b *backbone.Batch) (float64, error)
	// Mark, when not nil, is called as each phase begins, for a clock of
	// the phases (the host's, or the device's events): PhaseForward and
	// PhaseBackward for each micro-batch, then PhaseOptimizer, then
	// PhaseDone. The first forward phase includes clearing the gradients.
	Mark func(Phase)
}

// Phase is a part of a training step (Step.Mark).
type Phase int

const (
	PhaseForward   Phase = iota // a micro-batch's forward pass
	PhaseBackward               // its backward pass
	PhaseOptimizer              // the mean, the clip and AdamW
	PhaseDone                   // the step is launched (on a GPU it may still run)
)

// Run takes the step at learning rate lr and returns the mean loss of its
// micro-batches and the gradient norm before clipping. When either is not
// finite the parameters are left as they were and the error wraps
// ErrNonFinite.
func (s *Step) Run(m Model, lr float64) (loss, norm float64, err error) {
	accum := max(s.Accum, 1)
	if s.Batch == nil {
		return 0, 0, errors.New("train: a step without batches")
	}
	mark := s.Mark
	if mark == nil {
		mark = func(Phase) {}
	}
	zero := s.ZeroGrad
	if zero == nil {
		zero = m.ZeroGrad
	}
	mark(PhaseForward)
	if err := zero(); err != nil {
		return 0, 0, err
	}
	for a := range accum {
		if a > 0 {
			mark(PhaseForward)
		}
		b, err := s.Batch(a)
		if err != nil {
			return 0, 0, err
		}
		var l float64
		if s.Pass != nil {
			if l, err = s.Pass(b); err != nil {
				return 0, 0, err
			}
		} else {
			if l, err = m.Forward(b, nil); err != nil {
				return 0, 0, err
			}
			mark(PhaseBackward)
			if err := m.Backward(); err != nil {
				return 0, 0, err
			}
		}
		loss += l / float64(accum)
	}
	mark(PhaseOptimizer)
	if accum > 1 {
		if err := m.ScaleGrads(float32(1 / float64(accum))); err != nil {
			return loss, 0, err
		}
	}
	if norm, err = m.ClipGrad(clipOrNone(s.Clip)); err != nil {
		return loss, 0, err
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) || math.IsNaN(norm) || math.IsInf(norm, 0) {
		return loss, norm, fmt.Errorf("loss %v, gradient norm %v: %w", loss, norm, ErrNonFinite)
	}
	if err := m.Step(lr); err != nil {
		return loss, norm, err
	}
	mark(PhaseDone)
	return loss, norm, nil
}

// clipOrNone is the clip of a step: 0 means no clip, an infinite norm.
func clipOrNone(c float64) float64 {
	if c <= 0 {
		return math.Inf(1)
	}
	return c
}
