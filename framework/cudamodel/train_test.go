package cudamodel

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mambakit/mambakit/framework/backbone"
)

// TestTrainingTracksCPU trains a small model for 30 steps (forward,
// backward, clip to norm 1, AdamW) on fixed random data on both devices
// from the same initialization, and checks that the GPU's loss curve stays
// on the CPU's and the final parameters agree.
func TestTrainingTracksCPU(t *testing.T) {
	c := backbone.NewConfig(128, 64, 2)
	cpu, g := testModels(t, c, 3)
	if err := g.SetPrecision(backbone.FP32); err != nil {
		t.Fatal(err)
	}
	ac := backbone.AdamWConfig{LR: 3e-3, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1}
	opt := backbone.NewAdamW(cpu, ac)
	batches := patternBatches(rand.New(rand.NewPCG(9, 9)), c.VocabSize)
	const steps = 30
	maxDiff, maxRel := 0.0, 0.0
	var first, last [2]float64
	for s := 0; s < steps; s++ {
		b := batches[s%len(batches)]
		lr := ac.LR * math.Min(1, float64(s+1)/5)
		lc, err := cpu.Forward(b, nil)
		if err != nil {
			t.Fatal(err)
		}
		cpu.ZeroGrad()
		if _, err := cpu.Backward(); err != nil {
			t.Fatal(err)
		}
		nc := cpu.ClipGrad(1)
		opt.Step(lr)

		lg := forwardBackward(t, g, b)
		ng, err := g.ClipGrad(1)
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Step(ac, lr); err != nil {
			t.Fatal(err)
		}
		diff := math.Abs(lg - lc)
		maxDiff, maxRel = math.Max(maxDiff, diff), math.Max(maxRel, diff/lc)
		t.Logf("step %2d  loss cpu %.6f gpu %.6f  |diff| %.2e  grad norm cpu %.5f gpu %.5f", s+1, lc, lg, diff, nc, ng)
		if s == 0 {
			first = [2]float64{lc, lg}
		}
		last = [2]float64{lc, lg}
	}
	t.Logf("loss %.4f → %.4f (cpu), %.4f → %.4f (gpu); largest |gpu − cpu| %.3g (relative %.3g)", first[0], last[0], first[1], last[1], maxDiff, maxRel)
	report(t, "training: loss curve, largest rel. diff", "30 steps d64 2L B4 L96", maxRel, 1e-3)
	if !(last[0] < first[0]-0.1) {
		t.Errorf("the CPU run did not learn: loss %.4f → %.4f", first[0], last[0])
	}
	host, err := backbone.New(c, 99)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Download(host); err != nil {
		t.Fatal(err)
	}
	report(t, "training: parameters after 30 steps", "30 steps d64 2L B4 L96", relErr(host.Params.Data, cpu.Params.Data), 1e-3)
	o2 := backbone.NewAdamW(host, ac)
	if err := g.DownloadAdamW(o2); err != nil {
		t.Fatal(err)
	}
	if o2.T != opt.T {
		t.Errorf("optimizer steps %d, CPU %d", o2.T, opt.T)
	}
	report(t, "training: AdamW first moments", "30 steps", relErr(o2.M.Data, opt.M.Data), 1e-2)
}

// patternBatches are four fixed batches (4 × 96) of a learnable pattern:
// each token predicts the next of a shuffled cycle, with noise.
func patternBatches(r *rand.Rand, vocab int) []*backbone.Batch {
	perm := r.Perm(vocab)
	var batches []*backbone.Batch
	for range 4 {
		b := &backbone.Batch{B: 4, L: 96, Inputs: make([]int32, 4*96), Targets: make([]int32, 4*96)}
		for i := range b.Inputs {
			b.Inputs[i] = int32(r.IntN(120))
			b.Targets[i] = int32(perm[b.Inputs[i]])
			if r.IntN(10) == 0 {
				b.Targets[i] = int32(r.IntN(120))
			}
		}
		batches = append(batches, b)
	}
	return batches
}
