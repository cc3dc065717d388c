package backbone

import "testing"

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
