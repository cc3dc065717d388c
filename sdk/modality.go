package sdk

import "context"

// Modality is what a plugin implements: one data modality (text, DNA, audio,
// ...) turned into token ids for the Mamba backbone and back.
//
// Every method takes a context: the host cancels it when the user presses
// Ctrl-C or a deadline passes, and a long Prepare must return promptly then.
// Implementations must be safe for concurrent use.
type Modality interface {
	// Describe reports what the plugin is and how its tokens are measured.
	Describe(ctx context.Context) (Info, error)
	// Prepare turns input files into a tokenized dataset with a train and a
	// validation split, written under req.OutDir. The same inputs, options
	// and seed give the same dataset, byte for byte.
	Prepare(ctx context.Context, req PrepareRequest) (Dataset, error)
	// Encode turns raw bytes (the contents of one file) into tokens.
	Encode(ctx context.Context, req EncodeRequest) (Tokens, error)
	// Decode turns tokens back into raw bytes (UTF-8 text, a FASTA record, a
	// WAV file).
	Decode(ctx context.Context, req DecodeRequest) ([]byte, error)
}

// Tokens is a sequence of token ids.
type Tokens []int32

// Kind says whether a modality is discrete (text, DNA) or a quantized
// continuous signal (audio). The comparison reports group modalities by it.
type Kind string

const (
	KindDiscrete   Kind = "discrete"
	KindContinuous Kind = "continuous"
)

// Info describes a modality plugin.
type Info struct {
	Name            string // short name used on the command line, e.g. "text"
	Version         string // the plugin's own version, e.g. "0.1.0"
	ProtocolVersion int    // filled in by the SDK; plugins leave it zero
	Kind            Kind
	// VocabSize is the number of token ids (before the backbone pads it).
	// For modalities whose vocabulary is learned in Prepare (BPE text), this
	// is the default and Dataset.VocabSize is the actual size.
	VocabSize int
	// Special maps the names of special tokens ("pad", "eos", "sep", "unk",
	// ...) to their ids.
	Special map[string]int32
	// Unit is what metrics are reported in: "byte", "base", "sample".
	Unit string
	// UnitsPerToken is the nominal number of units one token stands for (1
	// for bytes, bases and samples; a BPE tokenizer reports the measured
	// ratio in Dataset instead). Bits per unit = nats per token / ln 2 /
	// UnitsPerToken.
	UnitsPerToken float64
	// FileTypes lists the file name suffixes Prepare reads (".txt", ".fa.gz").
	FileTypes []string
}

// PrepareRequest asks a plugin to build a dataset.
type PrepareRequest struct {
	Inputs []string // files or directories
	OutDir string   // where the dataset goes; the plugin creates it atomically
	// Options are plugin-specific settings ("vocab_size", "tokenizer",
	// "sample_rate", ...), documented by each plugin.
	Options map[string]string
	Seed    uint64
	// ValidFraction is the share of documents that go to the validation
	// split (0 < f < 1).
	ValidFraction float64
}

// Dataset is a prepared, tokenized dataset on disk (format: docs/protocol.md).
type Dataset struct {
	Dir       string
	VocabSize int
	Train     Split
	Valid     Split
	// Artifacts are files in Dir that the model needs to encode and decode
	// later (for text, "tokenizer.json"); training copies them into every
	// checkpoint.
	Artifacts []string
}

// Split is one part of a Dataset.
type Split struct {
	File      string // token file, relative to Dataset.Dir
	DocsFile  string // document start offsets, relative to Dataset.Dir
	Tokens    int64
	Units     int64 // bytes, bases or samples the tokens stand for
	Documents int64
}

// EncodeRequest is one input to Encode.
type EncodeRequest struct {
	Data    []byte
	Name    string // file name, a hint for the format (".fa.gz", ".wav")
	Options map[string]string
	// Open asks for a prompt to continue: the last record (document, clip)
	// is left open, without the end-of-record token Encode otherwise ends
	// it with, so that generation goes on inside it. Earlier records keep
	// theirs. A plugin that predates the field ignores it; the host then
	// drops a trailing end-of-record token itself (session.EncodePrompt).
	Open bool
}

// DecodeRequest is one input to Decode.
type DecodeRequest struct {
	Tokens  Tokens
	Options map[string]string
}
