package sdk

import "google.golang.org/grpc"

// MaxMessageSize is the largest gRPC message either side accepts: 256 MiB,
// as Terraform uses for its providers. gRPC's default of 4 MiB would make
// Encode fail on a few seconds of raw audio or a long FASTA record, while
// the host and plugin always run on the same machine, so a large message
// costs only memory. Inputs above it go through Prepare, which reads files
// by path (docs/protocol.md, "Message size").
const MaxMessageSize = 256 << 20

// The bounds below follow from MaxMessageSize; they are the protocol's
// only size limits, and docs/protocol.md ("Message size") lists them.
const (
	// messageSlack is what a message may hold besides its payload (the
	// file name, options, protobuf framing).
	messageSlack = 1 << 20

	// MaxEncodeTokens is the most tokens one Encode reply carries: 4 bytes
	// each within MaxMessageSize. A plugin that may produce more (one that
	// inflates gzip, or resamples up) can check it as it goes; the SDK
	// refuses a longer reply with a clear error instead of gRPC's.
	MaxEncodeTokens = (MaxMessageSize - messageSlack) / 4

	// MaxEncodeBytes is the largest input one Encode call takes: at one
	// token per input byte (bytes, bases, 8-bit samples) its reply still
	// fits MaxEncodeTokens. The host refuses a larger file before reading
	// it, so a 100 MB FASTA fails at once instead of after tokenizing.
	MaxEncodeBytes = MaxEncodeTokens

	// MaxFileBytes is the largest file that PrepareFiles (and ReadInput
	// for a plugin's own files, such as a tokenizer) reads whole into
	// memory. Plugins that stream their inputs (text, DNA) bound a line or
	// a document instead.
	MaxFileBytes = 1 << 30
)

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
