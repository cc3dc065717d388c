// Package cuda is mambakit's GPU runtime: the CUDA driver API (libcuda),
// NVRTC and cuBLAS, all loaded at run time through purego, so a binary
// built with CGO_ENABLED=0 on a machine without CUDA runs as it is on a GPU
// machine. A machine without a GPU gets one error line from [Open].
//
// The pieces, one file each:
//
//   - lib.go: where the shared libraries are looked for ($MAMBAKIT_CUDA_LIBS,
//     the CUDA toolkit, pip's nvidia/*/lib folders) and how they are opened.
//   - driver.go: the driver API calls, each return code checked and
//     wrapped into an [Error] that names the call.
//   - device.go: [Device] (the primary context of one GPU), its properties.
//   - memory.go: [Buffer], device memory with host copies.
//   - stream.go: [Stream] and [Event] (timing with device events).
//   - nvrtc.go, cache.go: CUDA C compiled at first use for the device's
//     compute capability, cached on disk by the hash of source, options and
//     architecture (os.UserCacheDir()/mambakit/cuda, or $MAMBAKIT_CUDA_CACHE).
//   - sources.go: [Sources], the CUDA files another package hands the
//     runtime (framework/cudakernels passes its embedded kernels), with
//     #include "x.cuh" lines expanded from the same set.
//   - module.go: [Module] and [Function], launches, and the device's
//     registry of modules ([Device.Module], [Device.Kernel]).
//   - cublas.go: row-major sgemm with the conventions of kernels.MatMul,
//     optionally in TF32.
//   - graph.go, launch_ex.go: CUDA graphs, programmatic dependent launch.
//
// The runtime knows nothing of Mamba: the operations that run on it
// (selective scan, conv1d, RMSNorm, …) are framework/cudakernels.
//
// The driver keeps one current context per OS thread: every call that
// touches the device locks the goroutine to its thread and makes the
// device's context current first, so a Device may be used from any
// goroutine (but not concurrently on one stream without ordering).
package cuda
