package main

import (
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/kernels"
)

// benchGenerate times the recurrent step of a random model: tokens/s at
// batch 1 and the time of single tokens at given positions, which stays
// flat because the state does not grow.
func benchGenerate(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench generate", flag.ContinueOnError)
	fs.SetOutput(stdout)
	dModel := fs.Int("d-model", 768, "model width")
	layers := fs.Int("layers", 24, "number of blocks")
	dState := fs.Int("d-state", 16, "SSM state size N")
	vocab := fs.Int("vocab", 50280, "vocabulary size")
	tokens := fs.Int("tokens", 256, "tokens to generate")
	threads := fs.Int("threads", 0, "threads (0: all cores)")
	addBLASFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := positiveFlags(fs, "d-model", "layers", "d-state", "vocab", "tokens"); err != nil {
		return err
	}
	if err := setThreads(*threads); err != nil {
		return err
	}
	cfg := backbone.NewConfig(*vocab, *dModel, *layers)
	cfg.StateSize = *dState
	m, err := backbone.New(cfg, 1)
	if err != nil {
		return err
	}
	bytes := float64(len(m.Params.Data)) * 4
	fmt.Fprintf(stdout, "model: d_model %d, %d layers, d_state %d, vocab %d: %.1fM parameters (%.0f MB of float32 read per token); %d threads, matmul %s\n",
		*dModel, *layers, *dState, cfg.VocabSize, float64(len(m.Params.Data))/1e6, bytes/1e6, kernels.Threads(), kernels.BLAS())
	st := m.NewState(1)
	logits := make([]float32, cfg.VocabSize)
	r := rand.New(rand.NewPCG(1, 1))
	id := []int32{int32(r.IntN(*vocab))}
	if err := m.Step(id, st, logits); err != nil { // warm-up: buffers, caches
		return err
	}
	st = m.NewState(1)
	per := make([]time.Duration, *tokens+1)
	start := time.Now()
	for pos := 1; pos <= *tokens; pos++ {
		t0 := time.Now()
		if err := m.Step(id, st, logits); err != nil {
			return err
		}
		per[pos] = time.Since(t0)
		best := 0
		for i, v := range logits[:*vocab] { // greedy, as generation would
			if v > logits[best] {
				best = i
			}
		}
		id[0] = int32(best)
	}
	el := time.Since(start).Seconds()
	for i, pos := range []int{1, 128, 256, *tokens} {
		if pos <= *tokens && (i < 3 || pos > 256) {
			fmt.Fprintf(stdout, "position %4d: %.2f ms\n", pos, per[pos].Seconds()*1e3)
		}
	}
	tps := float64(*tokens) / el
	fmt.Fprintf(stdout, "weights streamed: %.1f GB/s\n", bytes*tps/1e9)
	fmt.Fprintf(stdout, "tokens_per_s=%.2f batch=1\n", tps)
	return nil
}
