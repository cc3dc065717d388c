// Package bench measures the model's speed: training steps, the selective
// scan, the matrix multiply and generation, on the CPU or (with
// Device train.CUDA) a GPU. Each benchmark takes a typed options struct,
// whose Default* function gives the defaults for a device, and writes its
// report to an io.Writer; docs/benchmarks.md quotes the reports.
//
// The options are checked by the caller (cmd/mambakit checks its flags);
// a benchmark assumes sizes of at least 1.
package bench
