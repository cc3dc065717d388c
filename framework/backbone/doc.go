// Package backbone is the Mamba language model of mambakit (Gu and Dao,
// 2023): forward and backward passes over whole sequences, a recurrent Step,
// generation, AdamW, and Hugging Face checkpoints in and out.
//
// # Glossary
//
// Paper symbols, the Go names used here, and the Hugging Face tensor or
// config names (transformers' MambaForCausalLM; the prefix
// backbone.layers.{i}.mixer. is written "mixer."):
//
//	symbol  meaning                         Go                      Hugging Face
//	B       batch size                      Batch.B                 -
//	L       sequence length                 Batch.L                 -
//	V       vocabulary size                 Config.VocabSize        vocab_size
//	D       model width (d_model)           Config.HiddenSize       hidden_size
//	E       expansion factor                Config.Expand           expand
//	Din     inner width E·D (d_inner)       Config.IntermediateSize intermediate_size
//	N       state size (d_state)            Config.StateSize        state_size
//	R       rank of Δ's projection          Config.TimeStepRank     time_step_rank
//	K       conv width (d_conv)             Config.ConvKernel       conv_kernel
//	        token embeddings (tied head)    Params.Embed            backbone.embeddings.weight
//	        block RMSNorm weight            Params.Norm             backbone.layers.{i}.norm.weight
//	x, z    input and gate branches         Params.InProj           mixer.in_proj.weight
//	        causal depthwise conv           Params.ConvW, ConvB     mixer.conv1d.weight, .bias
//	Δ,B,C   input-dependent SSM params      Params.XProj            mixer.x_proj.weight
//	Δ       from rank R to Din, + bias      Params.DtW, DtB         mixer.dt_proj.weight, .bias
//	A       state matrix, A = −exp(A_log)   Params.ALog             mixer.A_log
//	D       skip connection                 Params.Dskip            mixer.D
//	        mixer output projection         Params.OutProj          mixer.out_proj.weight
//	        final RMSNorm weight            Params.NormF            backbone.norm_f.weight
//	Ā, B̄    discretized A, B (ZOH / Euler)  inside kernels.Scan     -
//	h       SSM state (B, Din, N)           State.SSM               cache_params.ssm_states
//	        conv state (B, Din, K−1)        State.Conv              cache_params.conv_states (K wide)
//
// # Data flow
//
// For each block i, on the residual stream x (B, L, D):
//
//	xn      = RMSNorm(x) · norm.weight
//	(x', z) = xn · in_projᵀ                          two halves, each (B, L, Din)
//	u       = SiLU(conv1d(x'))                       causal, depthwise, width K
//	(δ, B, C) = u · x_projᵀ                          (B, L, R), (B, L, N), (B, L, N)
//	Δ       = softplus(δ · dt_projᵀ + dt_proj.bias)  (B, L, Din)
//	y       = SelectiveScan(u, Δ, A, B, C, D) · SiLU(z)
//	x       = x + y · out_projᵀ
//
// then logits = RMSNorm(x) · norm_f.weight · embeddingsᵀ. Backward walks the
// same list in reverse with one explicit backward per step (backward.go);
// activations live in flat buffers (model.go, acts) and parameters,
// gradients and AdamW moments share one flat layout (params.go).
//
// Packed sequences: Batch.Reset marks document starts; both the conv and
// the scan zero their state there. Long sequences: Forward takes and
// returns a State, and Backward returns the gradient w.r.t. the state it
// started from.
package backbone
