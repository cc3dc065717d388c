package sdk

import "google.golang.org/grpc"

// MaxMessageSize is the largest gRPC message either side accepts: 256 MiB,
// as Terraform uses for its providers. gRPC's default of 4 MiB would make
// Encode fail on a few seconds of raw audio or a long FASTA record, while
// the host and plugin always run on the same machine, so a large message
// costs only memory. Inputs above it go through Prepare, which reads files
// by path (docs/protocol.md, "Message size").
const MaxMessageSize = 256 << 20

// This is the one place that raises gRPC's limits, for both ends.

func serverOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxMessageSize),
		grpc.MaxSendMsgSize(MaxMessageSize),
	}
}

func dialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(MaxMessageSize),
			grpc.MaxCallSendMsgSize(MaxMessageSize),
		),
	}
}
