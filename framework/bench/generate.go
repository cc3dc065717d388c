package bench

import (
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/kernels"
	"github.com/mambakit/mambakit/framework/train"
)

// GenerateOptions size a generation benchmark: greedy generation of
// Tokens tokens at batch 1 from a random model of DModel, Layers, DState
// and Vocab, and of Tokens tokens in all (at least 8 steps) at each other
// batch in Batches.
type GenerateOptions struct {
	Device                        train.Device
	DModel, Layers, DState, Vocab int
	Tokens                        int
	Batches                       []int  // rows a step (nil: 1)
	Seed                          uint64 // of the model (and the first token)
	Threads                       int    // on the CPU (0: all cores)
	BLAS                          string // on the CPU: the matrix-multiply back end ("": the current one)
	Reps                          int    // on a GPU: back-to-back steps timed with device events
	AllVariants                   bool   // on a GPU: also the earlier forms of the step kernels
	// Precision of the step's products ("" is fp32): on the CPU bf16
	// streams bfloat16 weights; on a GPU tf32 and bf16 apply to the
	// products of the cuBLAS path (more rows than the step kernels take:
	// TF32 tensor cores, or bfloat16 weights and activations with float32
	// sums); bf16 also reaches batch 1 (the early step kernels read
	// bfloat16 weights), and batches between stay float32 (each batch
	// says which ran).
	Precision backbone.Precision
	Ops       bool // on a GPU: time each kind of operation of a step (CUDA events) and print where it goes
}

// DefaultGenerate returns the defaults on dev: the mamba-130m shape.
func DefaultGenerate(dev train.Device) GenerateOptions {
	o := GenerateOptions{Device: train.CPU, DModel: 768, Layers: 24, DState: 16, Vocab: 50280, Tokens: 256, Seed: 1, Batches: []int{1}}
	if dev == train.CUDA {
		o.Device, o.Reps = dev, 200
	}
	return o
}

// Generate times the recurrent step of a random model: tokens/s at batch
// 1 and the time of single tokens at given positions, which stays flat
// because the state does not grow, then each larger batch (on a GPU,
// generateCUDA).
func Generate(o GenerateOptions, w io.Writer) error {
	if len(o.Batches) == 0 {
		o.Batches = []int{1}
	}
	if o.Device == train.CUDA {
		return generateCUDA(o, w)
	}
	if err := useCPU(o.Threads, o.BLAS); err != nil {
		return err
	}
	cfg := backbone.NewConfig(o.Vocab, o.DModel, o.Layers)
	cfg.StateSize = o.DState
	m, err := backbone.New(cfg, o.Seed)
	if err != nil {
		return err
	}
	m.Precision = o.Precision
	bytes, dtype := float64(len(m.Params.Data))*4, "float32"
	if m.Precision == backbone.BF16 {
		bytes, dtype = bytes/2, "bfloat16"
	}
	fmt.Fprintf(w, "model: d_model %d, %d layers, d_state %d, vocab %d: %.1fM parameters (%.0f MB of %s read per token); %d threads, matmul %s\n",
		o.DModel, o.Layers, o.DState, cfg.VocabSize, float64(len(m.Params.Data))/1e6, bytes/1e6, dtype, kernels.Threads(), kernels.BLAS())
	if !slices.Contains(o.Batches, 1) {
		return generateBatches(o, m, bytes, batchResult{}, w)
	}
	st := m.NewState(1)
	logits := make([]float32, cfg.VocabSize)
	r := rand.New(rand.NewPCG(o.Seed, 1))
	id := []int32{int32(r.IntN(o.Vocab))}
	if err := m.Step(id, st, logits); err != nil { // warm-up: buffers, caches
		return err
	}
	st = m.NewState(1)
	per := make([]time.Duration, o.Tokens+1)
	start := time.Now()
	for pos := 1; pos <= o.Tokens; pos++ {
		t0 := time.Now()
		if err := m.Step(id, st, logits); err != nil {
			return err
		}
		per[pos] = time.Since(t0)
		best := 0
		for i, v := range logits[:o.Vocab] { // greedy, as generation would
			if v > logits[best] {
				best = i
			}
		}
		id[0] = int32(best)
	}
	el := time.Since(start).Seconds()
	for i, pos := range []int{1, 128, 256, o.Tokens} {
		if pos <= o.Tokens && (i < 3 || pos > 256) {
			fmt.Fprintf(w, "position %4d: %.2f ms\n", pos, per[pos].Seconds()*1e3)
		}
	}
	tps := float64(o.Tokens) / el
	fmt.Fprintf(w, "weights streamed: %.1f GB/s\n", bytes*tps/1e9)
	if len(o.Batches) > 1 {
		one := batchResult{B: 1, steps: o.Tokens, stepSec: el / float64(o.Tokens)}
		return generateBatches(o, m, bytes, one, w)
	}
	fmt.Fprintf(w, "tokens_per_s=%.2f batch=1\n", tps)
	return nil
}

// generateBatches times the batches of o on the CPU Stepper of m but for
// batch 1 when one (B = 1) is given: the loop above timed it.
func generateBatches(o GenerateOptions, m *backbone.Model, weightBytes float64, one batchResult, w io.Writer) error {
	shape := newBatchShape(&m.Config, float64(len(m.Params.Data)), weightBytes)
	var res []batchResult
	for _, B := range o.Batches {
		if B == 1 && one.B == 1 {
			res = append(res, one)
			continue
		}
		r, err := timeBatch(m.NewStepper(B), B, o.Tokens, o.Vocab, o.Seed)
		if err != nil {
			return err
		}
		res = append(res, r)
	}
	printBatches(w, shape, 0, res)
	return nil
}
