package session

import (
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/mambakit/mambakit/framework/train"
)

// CodecOptions are the options for Encode and Decode of data prepared with
// prepOpts into a dataset (or checkpoint) directory dir holding artifacts:
// the same options, except that a learned tokenizer is read back from dir
// instead of being trained again (the text plugin's "tokenizer" option
// takes a directory holding tokenizer.json).
func CodecOptions(prepOpts map[string]string, dir string, artifacts []string) map[string]string {
	o := maps.Clone(prepOpts)
	if o == nil {
		o = map[string]string{}
	}
	if slices.Contains(artifacts, "tokenizer.json") {
		delete(o, "vocab_size")
		o["tokenizer"] = dir
	}
	return o
}

// CheckpointCodec returns the Encode/Decode options of a checkpoint's run.
func CheckpointCodec(info train.RunInfo) map[string]string {
	var arts []string
	if _, err := os.Stat(filepath.Join(info.Checkpoint, "tokenizer.json")); err == nil {
		arts = append(arts, "tokenizer.json")
	}
	return CodecOptions(info.PrepareOptions, info.Checkpoint, arts)
}

// SampleExt is the file suffix of decoded output for a modality's unit.
func SampleExt(unit string) string {
	switch unit {
	case "byte":
		return ".txt"
	case "base":
		return ".fa"
	case "sample":
		return ".wav"
	}
	return ".bin"
}

// StopTokens are a modality's end-of-document tokens: generation after one
// of them was never trained (the next document starts from a reset state).
func StopTokens(special map[string]int32) []int32 {
	var out []int32
	for _, k := range []string{"eos", "sep"} {
		if id, ok := special[k]; ok {
			out = append(out, id)
		}
	}
	return out
}

// DocEnd is a modality's end-of-document token ("eos", else "sep"), the
// one Prepare ends every document with: training learns from it how the
// next document begins (train.Data.SetDocEnd).
func DocEnd(special map[string]int32) (int32, bool) {
	for _, k := range []string{"eos", "sep"} {
		if id, ok := special[k]; ok {
			return id, true
		}
	}
	return 0, false
}

// StartToken is the token a prompt-less generation starts from: the
// end-of-document token, which precedes every document of a prepared
// dataset and from which training learns the first token of the next
// (generation then resets the state, as training does at a document
// start). A "bos" that the data never holds, such as the DNA vocabulary's
// [BOS], would start from an untrained embedding. Without an end token:
// 0.
func StartToken(special map[string]int32) int32 {
	id, _ := DocEnd(special)
	return id
}
