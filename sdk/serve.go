package sdk

import (
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/mambakit/mambakit/sdk/internal/pluginpb"
)

// Serve runs m as a plugin: it answers the host's handshake, serves the
// protocol over gRPC until the host disconnects, and returns then (main
// should simply return). Started by hand rather than by a host, it prints
// a hint and exits with status 1.
func Serve(m Modality) {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: handshake(),
		Plugins:         plugin.PluginSet{pluginpb.PluginName: &grpcPlugin{impl: m}},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return plugin.DefaultGRPCServer(append(opts, serverOptions()...))
		},
	})
}

func handshake() plugin.HandshakeConfig {
	return plugin.HandshakeConfig{
		ProtocolVersion:  pluginpb.ProtocolVersion,
		MagicCookieKey:   pluginpb.MagicCookieKey,
		MagicCookieValue: pluginpb.MagicCookieValue,
	}
}
