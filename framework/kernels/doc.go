// Package kernels holds the numeric kernels of the Mamba backbone: the fused
// selective scan (forward and backward), the causal depthwise convolution,
// RMSNorm, SiLU, softplus, embedding, cross-entropy and matrix multiply.
//
// # Conventions
//
// Storage is float32, row-major, with the shape of every buffer written in
// the doc comment of the kernel that uses it; sums that need it are carried in
// float64. Sequences are token-major: an activation of shape (B, L, D) holds
// element (b, t, d) at index (b*L+t)*D+d.
//
// Every kernel has a plain reference implementation (the *Generic or *Ref
// functions, always compiled) and the exported, faster version, which the
// tests check against the reference on random inputs of awkward sizes with
// NaN-filled guard regions around every output.
//
// # Determinism
//
// Work is split over a fixed partition that depends only on the problem size
// and the thread count ([SetThreads]); reductions across workers are summed
// in worker order, never with atomics. Two runs with the same inputs and the
// same thread count are bit-identical.
package kernels
