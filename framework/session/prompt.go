package session

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/mambakit/mambakit/internal/atomicfile"
	"github.com/mambakit/mambakit/sdk"
)

// EncodePrompt encodes a prompt with encode (a plugin's Encode) for
// generation to continue: with EncodeRequest.Open, so the plugin leaves
// the last record open, and
// without a trailing end-of-document token, which a plugin that predates
// Open still appends (one is dropped: a prompt cannot end a document).
func EncodePrompt(ctx context.Context, encode func(context.Context, sdk.EncodeRequest) (sdk.Tokens, error), special map[string]int32, req sdk.EncodeRequest) (sdk.Tokens, error) {
	req.Open = true
	ids, err := encode(ctx, req)
	if err != nil {
		return nil, err
	}
	if n := len(ids); n > 0 && slices.Contains(StopTokens(special), ids[n-1]) {
		ids = ids[:n-1]
	}
	return ids, nil
}

// Boundary says where the prompt ends in a generated sample. It is written
// beside the sample as FILE.json (WriteGenerated).
type Boundary struct {
	PromptTokens int `json:"prompt_tokens"`
	Tokens       int `json:"tokens"` // prompt and continuation
	// Unit and PromptUnits: the continuation starts after PromptUnits
	// units of the decoded file, counted as the modality measures it:
	// bytes of text, bases of the FASTA sequences (headers and line
	// breaks not counted, records in turn), samples of the WAV (the
	// boundary sample index).
	Unit        string `json:"unit"`
	PromptUnits int64  `json:"prompt_units"`
}

// Generated is a decoded sample: the file and where its prompt ends.
type Generated struct {
	Data     []byte
	Boundary Boundary
}

// DecodeGenerated decodes tokens, the first prompt of them a prompt, with
// decode (the plugin's Decode with the run's options) and finds where the
// prompt ends. Text (unit "byte") ends with a line break.
func DecodeGenerated(ctx context.Context, decode func(context.Context, []int32) ([]byte, error), info sdk.Info, tokens []int32, prompt int) (Generated, error) {
	data, err := decode(ctx, tokens)
	if err != nil {
		return Generated{}, err
	}
	g := Generated{Data: data, Boundary: Boundary{PromptTokens: prompt, Tokens: len(tokens), Unit: info.Unit}}
	if info.Unit == "byte" {
		// Bytes do not map to tokens one to one (BPE): decode the prompt.
		if prompt > 0 {
			p, err := decode(ctx, tokens[:prompt])
			if err != nil {
				return Generated{}, err
			}
			g.Boundary.PromptUnits = int64(len(p))
		}
		if n := len(g.Data); n > 0 && g.Data[n-1] != '\n' {
			g.Data = append(g.Data, '\n')
		}
		return g, nil
	}
	// One unit per token but for the special ones ([SEP], [PAD], ...).
	var units int64
	for _, id := range tokens[:prompt] {
		if !isSpecial(info.Special, id) {
			units++
		}
	}
	g.Boundary.PromptUnits = int64(math.Round(float64(units) * max(info.UnitsPerToken, 1)))
	return g, nil
}

func isSpecial(special map[string]int32, id int32) bool {
	for _, s := range special {
		if s == id {
			return true
		}
	}
	return false
}

// WriteGenerated writes g's file to path and its Boundary to path+".json",
// each atomically, making path's directory first when it is missing.
func WriteGenerated(path string, g Generated) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("the sample's directory: %w", err)
	}
	if err := atomicfile.WriteFile(path, g.Data, 0o644); err != nil {
		return err
	}
	b, err := json.MarshalIndent(g.Boundary, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path+".json", append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write the sample's boundary: %w", err)
	}
	return nil
}
