package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/host"
	"github.com/mambakit/mambakit/framework/session"
	"github.com/mambakit/mambakit/framework/train"
	"github.com/mambakit/mambakit/sdk"
)

// generateFlags are generate's flags beyond the checkpoint's.
type generateFlags struct {
	cf                      checkpointFlags
	prompt, promptFile, out string
	n                       int
	s                       backbone.Sampling
	stop                    bool
}

func newGenerateCmd(x *invocation) *cobra.Command {
	var g generateFlags
	c := &cobra.Command{
		Use:   "generate --checkpoint DIR [--prompt TEXT | --prompt-file F] --tokens N [flags]",
		Short: "sample from a checkpoint with the recurrent step",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if g.prompt != "" && g.promptFile != "" {
				return usagef("give --prompt or --prompt-file, not both")
			}
			if g.n < 1 {
				return usagef("--tokens %d: want ≥ 1", g.n)
			}
			return runGenerate(c.Context(), &g, x.stdout)
		},
	}
	g.cf.register(c, "where the steps run (on cuda, a CUDA graph of the step)")
	fs := c.Flags()
	fs.StringVar(&g.prompt, "prompt", "", "prompt text (text, or a DNA sequence)")
	fs.StringVar(&g.promptFile, "prompt-file", "", "prompt file (any input the modality reads: .txt, .fa, .wav)")
	fs.IntVar(&g.n, "tokens", 256, "tokens to generate")
	fs.Float64Var(&g.s.Temperature, "temperature", 1, "sampling temperature (0: greedy)")
	fs.IntVar(&g.s.TopK, "top-k", 0, "keep the k likeliest tokens (0: all)")
	fs.Float64Var(&g.s.TopP, "top-p", 1, "keep the likeliest tokens up to this probability (1: all)")
	fs.Uint64Var(&g.s.Seed, "seed", 1, "sampling seed")
	addOutFlag(c, &g.out, "output file, with FILE.json beside it saying where the prompt ends (default: stdout; audio needs -o)")
	fs.BoolVar(&g.stop, "stop", true, "end at the modality's end-of-document token (eos, sep); --stop=false generates all --tokens")
	return c
}

func runGenerate(ctx context.Context, g *generateFlags, stdout io.Writer) error {
	cf, out, n, s := &g.cf, g.out, g.n, g.s
	prompt, promptFile := g.prompt, g.promptFile
	m, p, err := cf.open(ctx)
	if err != nil {
		return err
	}
	defer m.Close()
	defer p.Close()
	if out == "" && p.Info.Unit == "sample" {
		return usagef("audio output is a WAV file: give -o FILE.wav")
	}
	var ids sdk.Tokens
	switch {
	case promptFile != "":
		b, err := host.ReadInput(promptFile)
		if err != nil {
			return err
		}
		if ids, err = session.EncodePrompt(ctx, p.Encode, cf.info.Special, sdk.EncodeRequest{Data: b, Name: promptFile, Options: cf.codec()}); err != nil {
			return fmt.Errorf("%s: %w", promptFile, err)
		}
	case prompt != "":
		if ids, err = session.EncodePrompt(ctx, p.Encode, cf.info.Special, sdk.EncodeRequest{Data: []byte(prompt), Name: "prompt", Options: cf.codec()}); err != nil {
			return fmt.Errorf("prompt: %w", err)
		}
	}
	promptLen := len(ids)
	if promptLen == 0 { // no prompt: start a document, as training does
		ids = sdk.Tokens{session.StartToken(cf.info.Special)}
	}
	s.Vocab = cf.info.VocabSize
	s.DocEnds = session.StopTokens(cf.info.Special)
	if g.stop {
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
	info := p.Info
	info.Special = cf.info.Special                                                              // as the model's tokenizer numbers them
	res, err := session.DecodeGenerated(ctx, decode, info, gen[len(ids)-promptLen:], promptLen) // without the start token
	if err != nil {
		return err
	}
	if out == "" {
		if _, err := stdout.Write(res.Data); err != nil {
			return err
		}
	} else if err := session.WriteGenerated(out, res); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "generated %d tokens after a %d-token prompt in %.2fs: %.1f tokens/s (recurrent step, constant memory); the continuation starts after %s %d\n",
		len(gen)-len(ids), promptLen, el, float64(len(gen))/el, p.Info.Unit, res.Boundary.PromptUnits)
	return nil
}
