package session

import (
	"context"
	"fmt"
	"time"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/train"
	"github.com/mambakit/mambakit/sdk"
)

// Prompt is what a generation continues: a file's contents.
type Prompt struct {
	Data []byte
	Name string // the file's name, or "prompt"; errors name it
}

// Generation is a decoded sample and how it was made.
type Generation struct {
	Generated
	Tokens       int     // tokens generated after the prompt
	PromptTokens int     // the prompt's tokens
	Seconds      float64 // time spent generating
	Rate         float64 // tokens per second, prompt included
}

// Generate continues prompt (nil: none; generation starts a document, as
// training does) by up to n tokens with the recurrent step,
// sampling as s says (its Vocab and DocEnds are set from the run; with
// stop, generation ends at the modality's end-of-document token), and
// decodes the result with the run's options, without the start token.
func (c *Checkpoint) Generate(ctx context.Context, prompt *Prompt, n int, s backbone.Sampling, stop bool) (Generation, error) {
	var ids sdk.Tokens
	if prompt != nil {
		var err error
		ids, err = EncodePrompt(ctx, c.Plugin.Encode, c.Info.Special, sdk.EncodeRequest{Data: prompt.Data, Name: prompt.Name, Options: c.Codec()})
		if err != nil {
			return Generation{}, fmt.Errorf("%s: %w", prompt.Name, err)
		}
	}
	promptLen := len(ids)
	if promptLen == 0 {
		ids = sdk.Tokens{StartToken(c.Info.Special)}
	}
	s.Vocab = c.Info.VocabSize
	s.DocEnds = StopTokens(c.Info.Special)
	if stop {
		s.Stop = s.DocEnds
	}
	t0 := time.Now()
	gen, err := train.Generate(c.Model, ids, n, s, func(int32) error { return ctx.Err() })
	if err != nil {
		return Generation{}, err
	}
	el := time.Since(t0).Seconds()
	res, err := DecodeGenerated(ctx, c.decode, c.unitInfo(), gen[len(ids)-promptLen:], promptLen)
	if err != nil {
		return Generation{}, err
	}
	return Generation{Generated: res, Tokens: len(gen) - len(ids), PromptTokens: promptLen, Seconds: el, Rate: float64(len(gen)) / el}, nil
}
