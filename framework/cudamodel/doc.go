// Package cudamodel runs the Mamba language model of framework/backbone on
// a CUDA GPU: the same parameters (one device buffer in backbone.Params'
// flat layout, each tensor a view by offset), the same forward and
// backward passes (cuBLAS for every projection, framework/cuda's kernels
// for the rest), gradient clipping and AdamW with backbone.AdamWConfig's
// semantics, and Download to bring parameters and optimizer moments back
// to a host backbone.Model for checkpointing.
//
//	m, _ := backbone.New(cfg, seed)
//	g, _ := cudamodel.New(dev, m)
//	loss, _ := g.Forward(batch, nil) // or a State, carried across batches
//	g.ZeroGrad(); g.Backward(); g.ClipGrad(1); g.Step(opt, lr)
//	g.Download(m)
//
// Everything is float32; projections use TF32 tensor cores only when
// SetPrecision asks for tf32 or bf16.
package cudamodel
