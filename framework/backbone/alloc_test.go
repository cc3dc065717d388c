package backbone

import (
	"math/rand/v2"
	"runtime"
	"testing"
)

// TestTrainingStepAllocations counts the heap allocations of one training
// step (Forward, Backward, clipping, AdamW) after warm-up steps, with
// activation recomputation and without: there are none. Activations are
// allocated once per batch shape, the kernels' work is split over
// long-lived workers with arguments passed by value, and their scratch
// comes from pools.
func TestTrainingStepAllocations(t *testing.T) {
	for _, p := range Precisions {
		for _, recompute := range []bool{false, true} {
			for _, L := range []int{200, 1600} {
				n, bytes := stepAllocs(t, p, recompute, 4, L)
				t.Logf("%s, recompute %v, batch 4 × %d: %.0f allocations, %.0f bytes per training step", p, recompute, L, n, bytes)
				if n != 0 {
					t.Errorf("%s, recompute %v, batch 4 × %d: %.0f allocations per training step, want 0", p, recompute, L, n)
				}
			}
		}
	}
}

func stepAllocs(t *testing.T, p Precision, recompute bool, B, L int) (allocs, bytes float64) {
	m := testModel(t, 31)
	m.Precision = p
	m.SetRecompute(recompute)
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
	const runs = 10
	for range runs {
		step()
	}
	runtime.ReadMemStats(&after)
	return testing.AllocsPerRun(runs, step), float64(after.TotalAlloc-before.TotalAlloc) / runs
}
