// Package nccl runs NVIDIA's collective communication library (libnccl)
// through purego, without cgo, for data-parallel training across GPUs: the
// unique id, communicator set-up, in-place float32 sums of gradient ranges
// on a stream of its own (overlapping the backward pass on the default
// stream), float64 sums of host values, and a rendezvous over TCP that hands
// rank 0's unique id to the other ranks and then watches that every rank is
// still alive.
//
// NVLink multicast (NVLS) is never used: Load sets NCCL_NVLS_ENABLE=0 in the
// process environment before libnccl is opened and refuses to go on if the
// variable holds anything else; nothing here creates multicast objects.
//
// The communicator runs on a framework/cuda Device: its stream, event and
// scalar buffer come from the runtime, which holds the only binding of
// libcuda.
//
// On a machine without libnccl, Load returns an error wrapping ErrNoLibrary
// and GPU tests skip with it; the rendezvous and the library search are
// plain Go and tested everywhere.
package nccl
