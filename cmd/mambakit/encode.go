package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/mambakit/mambakit/framework/host"
	"github.com/mambakit/mambakit/internal/atomicfile"
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
	return "", fmt.Errorf("--format %q: want text or bin", flag)
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

func (c *codecFlags) parse(name, usage string, args []string) (string, error) {
	c.opts = optionFlag{}
	fs := newFlagSet(name, usage)
	c.hf.register(fs)
	fs.StringVar(&c.modality, "modality", "", "the plugin (see \"mambakit plugins list\")")
	fs.StringVar(&c.tokenizer, "tokenizer", "", "tokenizer file (for text: a dataset's tokenizer.json); sets option tokenizer=PATH")
	fs.StringVar(&c.format, "format", "", "token file format: text (one id per line) or bin (little-endian uint32); default by extension: .bin and .tokens are bin")
	fs.StringVar(&c.out, "o", "", "output file")
	fs.Var(c.opts, "option", "plugin option key=value (repeatable)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return "", err
	}
	switch {
	case c.modality == "":
		return "", errors.New("missing --modality")
	case len(pos) != 1:
		return "", fmt.Errorf("want one input file, got %d", len(pos))
	case c.out == "":
		return "", errors.New("missing -o FILE")
	}
	if c.tokenizer != "" {
		abs, err := filepath.Abs(c.tokenizer)
		if err != nil {
			return "", err
		}
		if _, err := os.Stat(abs); err != nil {
			return "", fmt.Errorf("--tokenizer %s: %w", c.tokenizer, errors.Unwrap(err)) // the *os.PathError without its path
		}
		c.opts["tokenizer"] = abs
	}
	return pos[0], nil
}

// nameFile makes sure an error names the input file, without naming it
// twice when the plugin already did.
func nameFile(name string, err error) error {
	if strings.Contains(err.Error(), filepath.Base(name)) {
		return err
	}
	return fmt.Errorf("%s: %w", name, err)
}

func runEncode(ctx context.Context, args []string, stdout io.Writer) error {
	var c codecFlags
	in, err := c.parse("encode", "encode --modality M [--tokenizer FILE] FILE -o TOKENS [--format text|bin]", args)
	if err != nil {
		return err
	}
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
	ids, err := p.Encode(ctx, sdk.EncodeRequest{Data: data, Name: filepath.Base(in), Options: c.opts})
	if err != nil {
		return nameFile(in, err)
	}
	if err := atomicfile.Write(c.out, 0o644, func(w io.Writer) error { return sdk.WriteTokens(w, ids, format) }); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d bytes -> %d tokens (%s) in %s\n", in, len(data), len(ids), format, c.out)
	return nil
}

func runDecode(ctx context.Context, args []string, stdout io.Writer) error {
	var c codecFlags
	in, err := c.parse("decode", "decode --modality M [--tokenizer FILE] TOKENS -o FILE [--format text|bin]", args)
	if err != nil {
		return err
	}
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
	out, err := p.Decode(ctx, sdk.DecodeRequest{Tokens: ids, Options: c.opts})
	if err != nil {
		return nameFile(in, err)
	}
	if err := atomicfile.WriteFile(c.out, out, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d tokens -> %d bytes in %s\n", in, len(ids), len(out), c.out)
	return nil
}
