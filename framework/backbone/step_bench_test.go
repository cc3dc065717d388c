package backbone

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/mambakit/mambakit/framework/kernels"
)

// BenchmarkStep times one-token Steps of the mamba-130m shape (what
// `mambakit bench generate` times) at each CPU precision, in tokens/s.
func BenchmarkStep(b *testing.B) {
	if testing.Short() {
		b.Skip("a 130M-parameter model")
	}
	cfg := NewConfig(50280, 768, 24)
	m, err := New(cfg, 1)
	if err != nil {
		b.Fatal(err)
	}
	logits := make([]float32, cfg.VocabSize)
	for _, p := range []Precision{FP32, BF16} {
		b.Run(string(p), func(b *testing.B) {
			m.Precision = p
			st := m.NewState(1)
			id := []int32{1}
			if err := m.Step(id, st, logits); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if err := m.Step(id, st, logits); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}

// BenchmarkBF16Packs times bf16 training steps (Forward and Backward) of
// `mambakit bench train`'s shape with the operands packGrad and packAct
// convert once for two products, and with every operand converted apart
// (preOff), alternated step by step in one process so that a drift of
// the machine falls on both: ms/step of each, medians.
func BenchmarkBF16Packs(b *testing.B) {
	m, err := New(NewConfig(256, 128, 4), 1)
	if err != nil {
		b.Fatal(err)
	}
	m.Precision = BF16
	batch := randomBatch(rand.New(rand.NewPCG(1, 2)), 8, 512, 256)
	step := func(off bool) float64 {
		m.b16.preOff = off
		return trainStepMs(b, m, batch)
	}
	step(false)
	step(true)
	var once, apart []float64
	for b.Loop() {
		once = append(once, step(false))
		apart = append(apart, step(true))
	}
	b.ReportMetric(median(once), "ms/step-once")
	b.ReportMetric(median(apart), "ms/step-apart")
}

// trainStepMs times one Forward and Backward of m on batch, in ms.
func trainStepMs(b *testing.B, m *Model, batch *Batch) float64 {
	t0 := time.Now()
	if _, err := m.Forward(batch, nil); err != nil {
		b.Fatal(err)
	}
	m.ZeroGrad()
	if _, err := m.Backward(); err != nil {
		b.Fatal(err)
	}
	return float64(time.Since(t0).Microseconds()) / 1000
}

func median(x []float64) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkWorkerSpin times training steps (Forward and Backward) of
// `mambakit bench train`'s shape with the kernels' workers spinning
// between calls (kernels.WorkerSpin's default) and blocking at once,
// alternated step by step in one process: ms/step of each, medians, at
// each CPU precision.
func BenchmarkWorkerSpin(b *testing.B) {
	defer kernels.SetWorkerSpin(kernels.WorkerSpin())
	spin := kernels.WorkerSpin()
	for _, p := range []Precision{FP32, BF16} {
		b.Run(string(p), func(b *testing.B) {
			m, err := New(NewConfig(256, 128, 4), 1)
			if err != nil {
				b.Fatal(err)
			}
			m.Precision = p
			batch := randomBatch(rand.New(rand.NewPCG(1, 2)), 8, 512, 256)
			step := func(d time.Duration) float64 {
				kernels.SetWorkerSpin(d)
				return trainStepMs(b, m, batch)
			}
			step(spin)
			step(0)
			var spun, blocked []float64
			for b.Loop() {
				spun = append(spun, step(spin))
				blocked = append(blocked, step(0))
			}
			b.ReportMetric(median(spun), "ms/step-spin")
			b.ReportMetric(median(blocked), "ms/step-block")
		})
	}
}
