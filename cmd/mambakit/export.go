package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/session"
)

// exportDTypes maps the names --dtype takes to config.json's dtype.
var exportDTypes = map[string]string{
	"fp32": backbone.Float32, "float32": backbone.Float32,
	"bf16": backbone.BFloat16, "bfloat16": backbone.BFloat16,
}

func newExportCmd(x *invocation) *cobra.Command {
	var src, out, dtype string
	c := &cobra.Command{
		Use:   "export --checkpoint DIR -o OUT [--dtype fp32|bf16]",
		Short: "write a checkpoint's model as a model directory (float32 or bfloat16 weights) for transformers and mambakit",
		Long: `Write the model of a checkpoint (or a run directory's latest, or a model
directory) to a new directory: config.json and model.safetensors, with the
weights as float32 or rounded to bfloat16, and the run's mambakit.json and
tokenizer.json. transformers' MambaForCausalLM.from_pretrained loads it, and
so do eval, generate, score and train --init-from; it does not resume a run
(no optimizer state). docs/cli.md.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if src == "" {
				return usagef("missing --checkpoint DIR (a checkpoint, a run directory for its latest, or a model directory)")
			}
			if out == "" {
				return usagef("missing -o OUT (a new or empty directory)")
			}
			dt, ok := exportDTypes[strings.ToLower(dtype)]
			if !ok {
				return usagef("--dtype %q: want fp32 or bf16", dtype)
			}
			return runExport(src, out, dt, x.stdout)
		},
	}
	fs := c.Flags()
	fs.StringVar(&src, "checkpoint", "", "checkpoint directory, run directory (its latest checkpoint) or model directory")
	c.MarkFlagDirname("checkpoint")
	fs.StringVarP(&out, "out", "o", "", "the model directory to write (must not exist, or be empty)")
	c.MarkFlagDirname("out")
	fs.StringVar(&dtype, "dtype", "fp32", "how the weights are stored: fp32, or bf16 (each rounded to the nearest bfloat16)")
	c.RegisterFlagCompletionFunc("dtype", cobra.FixedCompletions([]string{"fp32", "bf16"}, cobra.ShellCompDirectiveNoFileComp))
	return c
}

func runExport(src, out, dtype string, stdout io.Writer) error {
	from, err := session.Export(src, out, dtype)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (%s weights) from %s\n", out, dtype, from)
	return nil
}
