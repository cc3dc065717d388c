package cudamodel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/mambakit/mambakit/framework/backbone"
)

// Tolerances of the GPU's reduced-precision products (SetPrecision),
// relative L2 errors against the CPU model in float32 on the Hugging Face
// fixtures, and the 30-step training band. bf16 rounds each product's
// inputs to 8 bits of mantissa (relative 2⁻⁹ ≈ 2e-3 each), tf32 to 11
// (2⁻¹² ≈ 2.4e-4); the products sum in float32 either way.
const (
	tolBF16Logits = 1e-2
	tolBF16Grad   = 5e-2
	tolBF16Loss   = 1e-3
	// minReduced is the least logits error that shows the products were
	// rounded at all (float32 gives about 1e-7).
	minReduced = 1e-5
	// tolBF16SameRounding bounds the GPU's bf16 logits against the CPU's
	// bf16 model (kernels.MatMulBF16: the same rounded inputs, sums in
	// another order). Products that were not rounded as the CPU rounds
	// (cuBLAS's FAST_16BF mode, which ran as TF32) measured 2.2e-3 to
	// 4.4e-3 here.
	tolBF16SameRounding = 1e-3
	tolTF32Logits       = 3e-3
	tolTF32Grad         = 2e-2
	// tolBF16Train bounds |loss_bf16 − loss_fp32| / loss_fp32 at every step
	// of a 30-step GPU run (the CPU's bf16 test allows 2e-3).
	tolBF16Train = 3e-3
)

// TestReducedPrecisionOnHFFixtures runs each Hugging Face fixture on the
// GPU with tf32 and bf16 products, against the CPU model in float32, and
// in bf16 against the CPU model in bf16 too.
func TestReducedPrecisionOnHFFixtures(t *testing.T) {
	d := openOrSkip(t)
	for _, name := range []string{"tiny", "small", "odd", "wide"} {
		t.Run(name, func(t *testing.T) {
			m, b := loadHFCase(t, name)
			shape := fmt.Sprintf("hf-%s B%d L%d", name, b.B, b.L)
			lossRef, err := m.Forward(b, nil)
			if err != nil {
				t.Fatal(err)
			}
			m.ZeroGrad()
			if _, err := m.Backward(); err != nil {
				t.Fatal(err)
			}
			logitsRef := append([]float32(nil), m.Logits()...)
			gradsRef := m.Grads.Tensors(&m.Config)
			m.Precision = backbone.BF16
			if _, err := m.Forward(b, nil); err != nil {
				t.Fatal(err)
			}
			logitsCPU16 := append([]float32(nil), m.Logits()...)
			for _, p := range []backbone.Precision{backbone.TF32, backbone.BF16} {
				g, err := New(d, m)
				if err != nil {
					t.Fatal(err)
				}
				defer g.Close()
				if err := g.SetPrecision(p); err != nil {
					t.Fatal(err)
				}
				loss, err := g.Forward(b, nil)
				if err != nil {
					t.Fatal(err)
				}
				logits, err := g.Logits()
				if err != nil {
					t.Fatal(err)
				}
				if err := g.Backward(); err != nil {
					t.Fatal(err)
				}
				gg, err := g.Grads()
				if err != nil {
					t.Fatal(err)
				}
				tolL, tolG := tolTF32Logits, tolTF32Grad
				if p == backbone.BF16 {
					tolL, tolG = tolBF16Logits, tolBF16Grad
					report(t, "bf16 logits vs CPU bf16", shape, relErr(logits, logitsCPU16), tolBF16SameRounding)
				}
				e := relErr(logits, logitsRef)
				report(t, string(p)+" logits vs fp32", shape, e, tolL)
				if e < minReduced {
					t.Errorf("%s logits within %.1e of fp32: the products were not rounded", p, e)
				}
				report(t, string(p)+" loss vs fp32", shape, math.Abs(loss-lossRef)/lossRef, tolBF16Loss)
				worst, worstName := 0.0, ""
				for i, tn := range gg.Tensors(&m.Config) {
					if e := relErr(tn.Data, gradsRef[i].Data); e > worst || math.IsNaN(e) {
						worst, worstName = e, tn.Name
					}
				}
				report(t, string(p)+" grads vs fp32 (worst)", shape, worst, tolG)
				t.Logf("%s: worst gradient %s", p, worstName)
				if err := g.SetPrecision(backbone.FP32); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestBF16TrainingTracksFP32 trains one model twice on the GPU from the
// same initialization for 30 steps, float32 and bf16 products, and checks
// the loss curves stay within tolBF16Train of each other and both learn.
func TestBF16TrainingTracksFP32(t *testing.T) {
	d := openOrSkip(t)
	c := backbone.NewConfig(128, 64, 2)
	batches := patternBatches(rand.New(rand.NewPCG(9, 9)), c.VocabSize)
	ac := backbone.AdamWConfig{LR: 3e-3, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1}
	run := func(p backbone.Precision) []float64 {
		m, err := backbone.New(c, 3)
		if err != nil {
			t.Fatal(err)
		}
		g, err := New(d, m)
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		if err := g.SetPrecision(p); err != nil {
			t.Fatal(err)
		}
		defer g.SetPrecision(backbone.FP32)
		var losses []float64
		for s := range 30 {
			l := forwardBackward(t, g, batches[s%len(batches)])
			if _, err := g.ClipGrad(1); err != nil {
				t.Fatal(err)
			}
			if err := g.Step(ac, ac.LR*math.Min(1, float64(s+1)/5)); err != nil {
				t.Fatal(err)
			}
			losses = append(losses, l)
		}
		return losses
	}
	l32, l16 := run(backbone.FP32), run(backbone.BF16)
	worst := 0.0
	for i := range l32 {
		worst = math.Max(worst, math.Abs(l16[i]-l32[i])/l32[i])
	}
	t.Logf("loss fp32 %.4f → %.4f, bf16 %.4f → %.4f; largest relative difference %.2e", l32[0], l32[29], l16[0], l16[29], worst)
	report(t, "bf16 training: loss curve vs fp32, largest rel. diff", "30 steps d64 2L B4 L96", worst, tolBF16Train)
	if !(l16[29] < l16[0]-0.1) {
		t.Errorf("the bf16 run did not learn: loss %.4f → %.4f", l16[0], l16[29])
	}
}
