package train

import (
	"errors"
	"fmt"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/kernels"
)

// Model is a model on one device, as training, evaluation, scoring and
// generation use it: NewModel places a backbone.Model on the CPU or a GPU,
// OpenModel a checkpoint. The host backbone.Model stays the record that
// checkpoints read: Sync brings it (and the optimizer's moments) up to
// date with the device.
type Model interface {
	// Config is the model's configuration.
	Config() *backbone.Config
	// NewState returns a zero recurrent state of B rows on the device.
	NewState(B int) (State, error)
	// Forward runs a batch and returns the mean cross-entropy of its
	// targets (0 without targets). With st nil every row starts from a
	// zero state; otherwise the batch continues st (a reset flag cuts it)
	// and st is left holding the state after the batch, as in
	// backbone.Model.Forward.
	Forward(b *backbone.Batch, st State) (float64, error)
	// Logits returns the logits (B, L, V) of the last Forward.
	Logits() ([]float32, error)
	// ZeroGrad clears the gradients; Backward adds the gradient of the
	// last Forward's loss to them; ScaleGrads multiplies them by f.
	ZeroGrad() error
	Backward() error
	ScaleGrads(f float32) error
	// ClipGrad scales the gradients to a global norm of at most maxNorm
	// and returns the norm before clipping.
	ClipGrad(maxNorm float64) (float64, error)
	// Step takes one AdamW step at learning rate lr.
	Step(lr float64) error
	// NewStepper returns the recurrent form of the model for B rows, at
	// most StepRows (0: any number).
	NewStepper(B int) (backbone.Stepper, error)
	StepRows() int
	// Sync copies the parameters and optimizer moments to the host model.
	Sync() error
	Close() error
}

// State is a recurrent state on a model's device (*backbone.State on the
// CPU, *cudamodel.State on a GPU).
type State interface {
	Rows() int
	CopyTo(dst *backbone.State) error   // to the host
	CopyFrom(src *backbone.State) error // from the host
	Free() error
}

// NewModel places m (and its optimizer opt; nil for a model that is only
// evaluated or sampled) on p's device. On a GPU, m's parameters and opt's
// moments are uploaded.
func NewModel(m *backbone.Model, opt *backbone.AdamW, p Placement) (Model, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	prec, err := p.Products()
	if err != nil {
		return nil, err
	}
	switch p.Device {
	case "", CPU:
		if p.BLAS != "" {
			if err := kernels.SetBLAS(p.BLAS); err != nil {
				return nil, err
			}
		}
		if p.Threads > 0 {
			kernels.SetThreads(p.Threads)
		}
		m.Precision = prec
		m.SetRecompute(p.Recompute)
		return &cpuModel{m: m, opt: opt}, nil
	case CUDA:
		return newCUDAModel(m, opt, p.GPU, prec, p.Recompute)
	}
	var d Device
	return nil, d.Set(string(p.Device))
}

// OpenModel loads the checkpoint dir (or the latest checkpoint of the run
// directory dir) and places it on p's device, for evaluation, scoring and
// generation.
func OpenModel(dir string, p Placement) (Model, RunInfo, error) {
	info, err := ReadRunInfo(dir)
	if err != nil {
		return nil, info, err
	}
	m, err := backbone.Load(info.Checkpoint)
	if err != nil {
		return nil, info, err
	}
	if err := m.Params.CheckFinite(&m.Config); err != nil {
		return nil, info, fmt.Errorf("checkpoint %s: %w", info.Checkpoint, err)
	}
	dm, err := NewModel(m, nil, p)
	return dm, info, err
}

// errNoOptimizer is Step's error on a model placed without one.
var errNoOptimizer = errors.New("train: the model was placed without an optimizer")

// Generate is GenerateBatch for one prompt (backbone.GenerateWith on a
// one-row Stepper of m; on a GPU, a CUDA graph of the step when capture
// works): the prompt followed by the new tokens.
func Generate(m Model, prompt []int32, n int, s backbone.Sampling, emit func(int32) error) ([]int32, error) {
	var each func(int, int32) error
	if emit != nil {
		each = func(_ int, id int32) error { return emit(id) }
	}
	out, err := GenerateBatch(m, [][]int32{prompt}, n, s, each)
	if len(out) == 0 {
		return nil, err
	}
	return out[0], err
}

// GenerateBatch is backbone.GenerateBatch on a Stepper of m with a row for
// each prompt; where m's step takes fewer rows (m.StepRows), on groups of
// that many prompts in turn, each row still sampled with s.Seed plus its
// index among all prompts.
func GenerateBatch(m Model, prompts [][]int32, n int, s backbone.Sampling, emit func(row int, id int32) error) ([][]int32, error) {
	rows := len(prompts)
	if lim := m.StepRows(); lim > 0 && rows > lim {
		rows = lim
	}
	if rows == 0 {
		return nil, errors.New("train: generate: no prompts")
	}
	var out [][]int32
	for at := 0; at < len(prompts); at += rows {
		group := prompts[at:min(at+rows, len(prompts))]
		st, err := m.NewStepper(len(group))
		if err != nil {
			return nil, err
		}
		gs := s
		gs.Seed = s.Seed + uint64(at)
		var each func(int, int32) error
		if emit != nil {
			each = func(r int, id int32) error { return emit(at+r, id) }
		}
		got, err := backbone.GenerateBatch(st, m.Config().VocabSize, group, n, gs, each)
		if cerr := st.Close(); err == nil {
			err = cerr
		}
		out = append(out, got...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}
