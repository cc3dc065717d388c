package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/mambakit/mambakit/framework/host"
	"github.com/mambakit/mambakit/sdk"
)

// tokenFormat picks a token file's format: the --format flag when given,
// else by the file's name (sdk.TokenFormatOf).
func tokenFormat(flag, name string) (sdk.TokenFormat, error) {
	switch f := sdk.TokenFormat(flag); f {
	case sdk.TokenText, sdk.TokenBinary:
		return f, nil
	case "":
		return sdk.TokenFormatOf(name), nil
	}
	return "", usagef("--format %q: want text or bin", flag)
}

// codecFlags are encode's and decode's shared flags.
type codecFlags struct {
	hf        hostFlags
	modality  string
	tokenizer string
	format    string
	out       string
	opts      optionFlag
}

// newCodecCmd is encode or decode: run gets the one input file.
func newCodecCmd(use, short string, run func(ctx context.Context, c *codecFlags, in string) error) *cobra.Command {
	var f codecFlags
	c := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  exactArgs(1, "one input file"),
		RunE: func(c *cobra.Command, args []string) error {
			if err := f.check(); err != nil {
				return err
			}
			return run(c.Context(), &f, args[0])
		},
	}
	f.opts = optionFlag{}
	f.hf.register(c)
	addModalityFlag(c, &f.modality, "the plugin (see \"mambakit plugins list\")")
	fs := c.Flags()
	fs.StringVar(&f.tokenizer, "tokenizer", "", "tokenizer file (for text: a dataset's tokenizer.json); sets option tokenizer=PATH")
	fs.StringVar(&f.format, "format", "", "token file format: text (one id per line) or bin (little-endian uint32); default by extension: .bin and .tokens are bin")
	addOutFlag(c, &f.out, "output file")
	fs.Var(f.opts, "option", "plugin option key=value (repeatable)")
	c.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"text", "bin"}, cobra.ShellCompDirectiveNoFileComp))
	return c
}

func (c *codecFlags) check() error {
	switch {
	case c.modality == "":
		return usagef("missing --modality")
	case c.out == "":
		return usagef("missing -o FILE (or --out FILE)")
	}
	if c.tokenizer != "" {
		abs, err := filepath.Abs(c.tokenizer)
		if err != nil {
			return err
		}
		if _, err := os.Stat(abs); err != nil {
			return fmt.Errorf("--tokenizer %s: %w", c.tokenizer, errors.Unwrap(err)) // the *os.PathError without its path
		}
		c.opts["tokenizer"] = abs
	}
	return nil
}

func newEncodeCmd(x *invocation) *cobra.Command {
	return newCodecCmd("encode --modality M [--tokenizer FILE] FILE -o TOKENS [--format text|bin]",
		"turn one file into a token file with a modality plugin",
		func(ctx context.Context, c *codecFlags, in string) error { return runEncode(ctx, c, in, x.stdout) })
}

func newDecodeCmd(x *invocation) *cobra.Command {
	return newCodecCmd("decode --modality M [--tokenizer FILE] TOKENS -o FILE [--format text|bin]",
		"turn a token file back into a file with a modality plugin",
		func(ctx context.Context, c *codecFlags, in string) error { return runDecode(ctx, c, in, x.stdout) })
}

func runEncode(ctx context.Context, c *codecFlags, in string, stdout io.Writer) error {
	format, err := tokenFormat(c.format, c.out)
	if err != nil {
		return err
	}
	data, err := host.ReadInput(in)
	if err != nil {
		return err
	}
	p, err := c.hf.start(ctx, c.modality)
	if err != nil {
		return err
	}
	defer p.Close()
	n, err := p.EncodeFile(ctx, in, data, c.out, format, c.opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d bytes -> %d tokens (%s) in %s\n", in, len(data), n, format, c.out)
	return nil
}

func runDecode(ctx context.Context, c *codecFlags, in string, stdout io.Writer) error {
	format, err := tokenFormat(c.format, in)
	if err != nil {
		return err
	}
	data, err := host.ReadInput(in)
	if err != nil {
		return err
	}
	ids, err := sdk.ParseTokens(data, format)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	p, err := c.hf.start(ctx, c.modality)
	if err != nil {
		return err
	}
	defer p.Close()
	n, err := p.DecodeFile(ctx, in, ids, c.out, c.opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d tokens -> %d bytes in %s\n", in, len(ids), n, c.out)
	return nil
}
