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
	cf                   checkpointFlags
	prompt, prompts, out string
	promptFiles          []string
	n, batch             int
	s                    backbone.Sampling
	stop                 bool
}

func newGenerateCmd(x *invocation) *cobra.Command {
	var g generateFlags
	c := &cobra.Command{
		Use:   "generate --checkpoint DIR [--prompt TEXT | --prompt-file F... | --prompts FILE] [--batch N] --tokens N [flags]",
		Short: "sample from a checkpoint with the recurrent step",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			given := 0
			for _, set := range []bool{g.prompt != "", len(g.promptFiles) > 0, g.prompts != ""} {
				if set {
					given++
				}
			}
			if given > 1 {
				return usagef("give one of --prompt, --prompt-file and --prompts")
			}
			if g.n < 1 {
				return usagef("--tokens %d: want ≥ 1", g.n)
			}
			if g.batch < 1 || g.batch > session.MaxSamples {
				return usagef("--batch %d: want 1..%d", g.batch, session.MaxSamples)
			}
			return runGenerate(c.Context(), &g, x.stdout)
		},
	}
	g.cf.register(c, "where the steps run (on cuda, a CUDA graph of the step)")
	fs := c.Flags()
	fs.StringVar(&g.prompt, "prompt", "", "prompt text (text, or a DNA sequence)")
	fs.StringArrayVar(&g.promptFiles, "prompt-file", nil, "prompt file (any input the modality reads: .txt, .fa, .wav); repeat for several prompts")
	fs.StringVar(&g.prompts, "prompts", "", "file of prompts, one per line (blank lines skipped)")
	fs.IntVar(&g.batch, "batch", 1, "samples of each prompt, all prompts' samples made at once (one row of the step each; sample i has seed --seed + i)")
	fs.IntVar(&g.n, "tokens", 256, "tokens to generate")
	fs.Float64Var(&g.s.Temperature, "temperature", 1, "sampling temperature (0: greedy)")
	fs.IntVar(&g.s.TopK, "top-k", 0, "keep the k likeliest tokens (0: all)")
	fs.Float64Var(&g.s.TopP, "top-p", 1, "keep the likeliest tokens up to this probability (1: all)")
	fs.Uint64Var(&g.s.Seed, "seed", 1, "sampling seed")
	addOutFlag(c, &g.out, "output file, with FILE.json beside it saying where the prompt ends; several samples: FILE-1, FILE-2, ... before the extension (default: stdout; audio needs -o)")
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
	var prompts []*session.Prompt
	switch {
	case len(g.promptFiles) > 0:
		for _, f := range g.promptFiles {
			b, err := host.ReadInput(f)
			if err != nil {
				return err
			}
			prompts = append(prompts, &session.Prompt{Data: b, Name: f})
		}
	case g.prompts != "":
		b, err := host.ReadInput(g.prompts)
		if err != nil {
			return err
		}
		if prompts, err = session.PromptLines(b, g.prompts); err != nil {
			return err
		}
	case g.prompt != "":
		prompts = []*session.Prompt{{Data: []byte(g.prompt), Name: "prompt"}}
	default:
		prompts = []*session.Prompt{nil}
	}
	rows, err := session.Repeat(prompts, g.batch)
	if err != nil {
		return usagef("%v", err)
	}
	res, err := ck.GenerateBatch(ctx, rows, g.n, g.s, g.stop)
	if err != nil {
		return err
	}
	unit := ck.Plugin.Info.Unit
	if len(res) == 1 {
		r := res[0]
		if g.out == "" {
			if _, err := stdout.Write(r.Data); err != nil {
				return err
			}
		} else if err := session.WriteGenerated(g.out, r.Generated); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "generated %d tokens after a %d-token prompt in %.2fs: %.1f tokens/s (recurrent step, constant memory); first token after %.3fs, then %.1f tokens/s; the continuation starts after %s %d\n",
			r.Tokens, r.PromptTokens, r.Seconds, r.Rate, r.FirstToken, r.NewRate, unit, r.Boundary.PromptUnits)
		return nil
	}
	made := 0
	for i, r := range res {
		made += r.Tokens
		if g.out == "" {
			fmt.Fprintf(stdout, "==> sample %d of %d (%s, seed %d) <==\n", i+1, len(res), rows[i].Label(), g.s.Seed+uint64(i))
			if _, err := stdout.Write(r.Data); err != nil {
				return err
			}
			continue
		}
		path := session.SamplePath(g.out, i, len(res))
		if err := session.WriteGenerated(path, r.Generated); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "%s: %d tokens after a %d-token prompt (%s, seed %d); the continuation starts after %s %d\n",
			path, r.Tokens, r.PromptTokens, rows[i].Label(), g.s.Seed+uint64(i), unit, r.Boundary.PromptUnits)
	}
	fmt.Fprintf(os.Stderr, "generated %d samples, %d tokens after their prompts, in %.2fs: %.1f tokens/s over the batch, prompts included (recurrent step, one row a sample); first token after %.3fs, then %.1f tokens/s\n",
		len(res), made, res[0].Seconds, res[0].Rate, res[0].FirstToken, res[0].NewRate)
	return nil
}
