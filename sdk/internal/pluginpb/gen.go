// Package pluginpb holds the generated gRPC code of the plugin protocol
// (modality.proto) and the go-plugin handshake. Only package sdk imports it.
//
// Regenerate after editing modality.proto (needs protoc, protoc-gen-go and
// protoc-gen-go-grpc on $PATH; see docs/protocol.md):
//
//	go generate ./sdk/internal/pluginpb
package pluginpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative modality.proto
