// Package sdk is the only package a mambakit modality plugin imports.
//
// A plugin implements [Modality] with plain Go types and calls [Serve] from
// main; the SDK runs it as a separate process that the mambakit host talks
// to over gRPC (hashicorp/go-plugin). See docs/plugins.md for a walk-through
// and docs/protocol.md for the protocol and the dataset format.
//
// # Plugin side
//
//   - [Modality], [Info] and the request types: what a plugin implements.
//   - [Serve]: main's one call. [Logger]: logging that reaches the host.
//   - [PrepareFiles], [InputFiles], [NewDatasetWriter]: writing datasets
//     deterministically and atomically.
//   - Package sdk/sdktest: the conformance suite, sdktest.Run.
//
// # Host side
//
//   - [Open] starts a plugin process and returns a [Plugin], a Modality
//     whose calls go over gRPC; [CrashError] and [ChecksumError] report
//     failures in one line.
//   - [ReadDataset] and [OpenSplit] read datasets (memory-mapped).
//   - [Loopback] runs a Modality behind an in-process gRPC connection.
//
// Generated protobuf types never appear in this API; they live in
// sdk/internal/pluginpb.
package sdk
