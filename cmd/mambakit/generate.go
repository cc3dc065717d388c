package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/host"
	"github.com/mambakit/mambakit/framework/session"
	"github.com/mambakit/mambakit/framework/train"
	"github.com/mambakit/mambakit/sdk"
)

func runGenerate(ctx context.Context, args []string, stdout io.Writer) error {
	var cf checkpointFlags
	var prompt, promptFile, out string
	var n int
	var s backbone.Sampling
	fs := newFlagSet("generate", "generate --checkpoint DIR [--prompt TEXT | --prompt-file F] --tokens N [flags]")
	cf.register(fs, "where the steps run (on cuda, a CUDA graph of the step)")
	fs.StringVar(&prompt, "prompt", "", "prompt text (text, or a DNA sequence)")
	fs.StringVar(&promptFile, "prompt-file", "", "prompt file (any input the modality reads: .txt, .fa, .wav)")
	fs.IntVar(&n, "tokens", 256, "tokens to generate")
	fs.Float64Var(&s.Temperature, "temperature", 1, "sampling temperature (0: greedy)")
	fs.IntVar(&s.TopK, "top-k", 0, "keep the k likeliest tokens (0: all)")
	fs.Float64Var(&s.TopP, "top-p", 1, "keep the likeliest tokens up to this probability (1: all)")
	fs.Uint64Var(&s.Seed, "seed", 1, "sampling seed")
	fs.StringVar(&out, "o", "", "output file, with FILE.json beside it saying where the prompt ends (default: stdout; audio needs -o)")
	stopAtEnd := fs.Bool("stop", true, "end at the modality's end-of-document token (eos, sep)")
	if _, err := parseInterleaved(fs, args); err != nil {
		return err
	}
	if prompt != "" && promptFile != "" {
		return errors.New("give --prompt or --prompt-file, not both")
	}
	if n < 1 {
		return fmt.Errorf("--tokens %d: want ≥ 1", n)
	}
	m, p, err := cf.open(ctx)
	if err != nil {
		return err
	}
	defer m.Close()
	defer p.Close()
	if out == "" && p.Info.Unit == "sample" {
		return errors.New("audio output is a WAV file: give -o FILE.wav")
	}
	var ids sdk.Tokens
	switch {
	case promptFile != "":
		b, err := host.ReadInput(promptFile)
		if err != nil {
			return err
		}
		if ids, err = session.EncodePrompt(ctx, p.Encode, p.Info.Special, sdk.EncodeRequest{Data: b, Name: promptFile, Options: cf.codec()}); err != nil {
			return fmt.Errorf("%s: %w", promptFile, err)
		}
	case prompt != "":
		if ids, err = session.EncodePrompt(ctx, p.Encode, p.Info.Special, sdk.EncodeRequest{Data: []byte(prompt), Name: "prompt", Options: cf.codec()}); err != nil {
			return fmt.Errorf("prompt: %w", err)
		}
	}
	promptLen := len(ids)
	if promptLen == 0 { // no prompt: start a document, as training does
		ids = sdk.Tokens{session.StartToken(p.Info.Special)}
	}
	s.Vocab = cf.info.VocabSize
	s.DocEnds = session.StopTokens(p.Info.Special)
	if *stopAtEnd {
		s.Stop = s.DocEnds
	}
	t0 := time.Now()
	gen, err := train.Generate(m, ids, n, s, func(int32) error { return ctx.Err() })
	if err != nil {
		return err
	}
	el := time.Since(t0).Seconds()
	decode := func(ctx context.Context, t []int32) ([]byte, error) {
		return p.Decode(ctx, sdk.DecodeRequest{Tokens: t, Options: cf.codec()})
	}
	g, err := session.DecodeGenerated(ctx, decode, p.Info, gen[len(ids)-promptLen:], promptLen) // without the start token
	if err != nil {
		return err
	}
	if out == "" {
		if _, err := stdout.Write(g.Data); err != nil {
			return err
		}
	} else if err := session.WriteGenerated(out, g); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "generated %d tokens after a %d-token prompt in %.2fs: %.1f tokens/s (recurrent step, constant memory); the continuation starts after %s %d\n",
		len(gen)-len(ids), promptLen, el, float64(len(gen))/el, p.Info.Unit, g.Boundary.PromptUnits)
	return nil
}
