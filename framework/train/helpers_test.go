package train

import "github.com/mambakit/mambakit/framework/backbone"

func newForTest(r *Run) (*backbone.Model, *backbone.AdamW, *Loader) {
	c := r.Config
	mc := backbone.NewConfig(r.VocabSize, c.DModel, c.Layers)
	mc.StateSize = c.DState
	m, err := backbone.New(mc, 1)
	if err != nil {
		panic(err)
	}
	ld, err := NewLoader(r.Train, c.Batch, c.SeqLen, false, 1)
	if err != nil {
		panic(err)
	}
	return m, newOptimizer(m, c), ld
}

// onCPU is m on the CPU through the model seam.
func onCPU(m *backbone.Model) Model { return &cpuModel{m: m} }
