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
	// FirstToken is the seconds to the first token chosen (reading the
	// prompt, and a device's start-up: a GPU's first step builds its
	// graph); NewRate the tokens chosen per second after it, over all
	// rows (0 with one token).
	FirstToken, NewRate float64
}

// Generate continues prompt (nil: none; generation starts a document, as
// training does) by up to n tokens with the recurrent step,
// sampling as s says (its Vocab and DocEnds are set from the run; with
// stop, generation ends at the modality's end-of-document token), and
// decodes the result with the run's options, without the start token.
func (c *Checkpoint) Generate(ctx context.Context, prompt *Prompt, n int, s backbone.Sampling, stop bool) (Generation, error) {
	gs, err := c.GenerateBatch(ctx, []*Prompt{prompt}, n, s, stop)
	if err != nil {
		return Generation{}, err
	}
	return gs[0], nil
}

// GenerateBatch is Generate for several prompts at once, one row of the
// model's step each (backbone.GenerateBatch: prompt i is sampled with the
// seed s.Seed + i). Every Generation has the batch's time; its Rate is
// the batch's tokens per second, prompts included, over all rows.
func (c *Checkpoint) GenerateBatch(ctx context.Context, prompts []*Prompt, n int, s backbone.Sampling, stop bool) ([]Generation, error) {
	ids := make([][]int32, len(prompts))
	promptLen := make([]int, len(prompts))
	for i, p := range prompts {
		if p != nil {
			t, err := EncodePrompt(ctx, c.Plugin.Encode, c.Info.Special, sdk.EncodeRequest{Data: p.Data, Name: p.Name, Options: c.Codec()})
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p.Name, err)
			}
			ids[i] = t
		}
		if promptLen[i] = len(ids[i]); promptLen[i] == 0 {
			ids[i] = []int32{StartToken(c.Info.Special)}
		}
	}
	s.Vocab = c.Info.VocabSize
	s.DocEnds = StopTokens(c.Info.Special)
	if stop {
		s.Stop = s.DocEnds
	}
	t0 := time.Now()
	var first time.Time
	chosen := 0
	gen, err := train.GenerateBatch(c.Model, ids, n, s, func(int, int32) error {
		if chosen++; chosen == 1 {
			first = time.Now()
		}
		return ctx.Err()
	})
	if err != nil {
		return nil, err
	}
	el := time.Since(t0).Seconds()
	firstSec := first.Sub(t0).Seconds()
	newRate := 0.0
	if chosen > 1 && el > firstSec {
		newRate = float64(chosen-1) / (el - firstSec)
	}
	total := 0
	for _, g := range gen {
		total += len(g)
	}
	out := make([]Generation, len(gen))
	for i, g := range gen {
		res, err := DecodeGenerated(ctx, c.decode, c.unitInfo(), g[len(ids[i])-promptLen[i]:], promptLen[i])
		if err != nil {
			return nil, err
		}
		out[i] = Generation{Generated: res, Tokens: len(g) - len(ids[i]), PromptTokens: promptLen[i], Seconds: el, Rate: float64(total) / el,
			FirstToken: firstSec, NewRate: newRate}
	}
	return out, nil
}
