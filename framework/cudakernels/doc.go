// Package cudakernels is the Mamba operations on the GPU, as
// framework/kernels is on the CPU: the selective scan (forward and
// backward), causal conv1d, RMSNorm, SiLU, the gate, softplus, embedding,
// cross-entropy, AdamW and the single-token step kernels, each with the
// semantics of its CPU counterpart, on device memory.
//
// [Device] embeds the runtime's *cuda.Device, so one value has memory,
// streams, cuBLAS and graphs (framework/cuda) and the operations:
//
//	d := cudakernels.New(dev) // dev from cuda.Open
//	err := d.ScanForward(&cudakernels.Scan{B: B, L: L, D: D, N: N, U: u, ...})
//
// The CUDA C is in kernels/, embedded and handed to the runtime as
// [Sources]: each .cu file is a module, compiled by NVRTC at first use
// for the device and cached. The scan is kernels/scan_common.cuh (the
// forward kernels and what the backward kernels share) with
// scan_real.cu and scan_complex.cu (the backward kernels of each);
// [Scan] picks the module by whether A is complex.
//
// The GPU tests compare every kernel with framework/kernels on random
// inputs and skip without a GPU; sources_test.go checks the CUDA files
// without one (kernel names looked up from Go, balance, a g++ syntax
// check with testdata/nvrtc_shim.h).
package cudakernels
