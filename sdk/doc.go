// Package sdk is the only package a mambakit modality plugin imports.
//
// A plugin implements [Modality] with plain Go types and calls Serve from
// main; the SDK runs it as a separate process that the mambakit host talks
// to over gRPC (hashicorp/go-plugin). See docs/plugins.md.
package sdk
