package backbone

import (
	"math/rand/v2"
	"runtime"
	"testing"
)

// TestTrainingStepAllocations counts the heap allocations of one training
// step (Forward, Backward, clipping, AdamW) after a warm-up step, and checks
// that their number does not grow with the batch: activations and scratch
// buffers are allocated once per batch shape, and what remains per step is
// a fixed number of small objects per kernel call (goroutines of the work
// split, per-worker scratch).
func TestTrainingStepAllocations(t *testing.T) {
	counts, bytes := map[int]float64{}, map[int]float64{}
	for _, L := range []int{200, 400, 1600} {
		counts[L], bytes[L] = stepAllocs(t, 4, L)
		t.Logf("batch 4 × %d: %.0f allocations, %.0f bytes per training step", L, counts[L], bytes[L])
	}
	if counts[1600] > counts[200]+8 {
		t.Errorf("allocations grow with the sequence length: %.0f at 200, %.0f at 1600", counts[200], counts[1600])
	}
	// Activations at 4 × 1600 take megabytes; what a step allocates must
	// be small and must not grow with the length.
	if bytes[1600] > 2*bytes[200]+64<<10 {
		t.Errorf("bytes allocated per step grow with the sequence length: %.0f at 200, %.0f at 1600", bytes[200], bytes[1600])
	}
}

func stepAllocs(t *testing.T, B, L int) (allocs, bytes float64) {
	m := testModel(t, 31)
	opt := NewAdamW(m, AdamWConfig{LR: 1e-3, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1})
	b := randomBatch(rand.New(rand.NewPCG(1, 1)), B, L, m.Config.VocabSize)
	step := func() {
		if _, err := m.Forward(b, nil); err != nil {
			t.Fatal(err)
		}
		m.ZeroGrad()
		if _, err := m.Backward(); err != nil {
			t.Fatal(err)
		}
		m.ClipGrad(1)
		opt.Step(1e-3)
	}
	step()
	step()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const runs = 5
	for range runs {
		step()
	}
	runtime.ReadMemStats(&after)
	return testing.AllocsPerRun(runs, step), float64(after.TotalAlloc-before.TotalAlloc) / runs
}
