package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/host"
	"github.com/mambakit/mambakit/framework/session"
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
	ck, err := g.cf.open(ctx)
	if err != nil {
		return err
	}
	defer ck.Close()
	if g.out == "" && ck.Plugin.Info.Unit == "sample" {
		return usagef("audio output is a WAV file: give -o FILE.wav")
	}
	var prompt *session.Prompt
	switch {
	case g.promptFile != "":
		b, err := host.ReadInput(g.promptFile)
		if err != nil {
			return err
		}
		prompt = &session.Prompt{Data: b, Name: g.promptFile}
	case g.prompt != "":
		prompt = &session.Prompt{Data: []byte(g.prompt), Name: "prompt"}
	}
	res, err := ck.Generate(ctx, prompt, g.n, g.s, g.stop)
	if err != nil {
		return err
	}
	if g.out == "" {
		if _, err := stdout.Write(res.Data); err != nil {
			return err
		}
	} else if err := session.WriteGenerated(g.out, res.Generated); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "generated %d tokens after a %d-token prompt in %.2fs: %.1f tokens/s (recurrent step, constant memory); the continuation starts after %s %d\n",
		res.Tokens, res.PromptTokens, res.Seconds, res.Rate, ck.Plugin.Info.Unit, res.Boundary.PromptUnits)
	return nil
}
