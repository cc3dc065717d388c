package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/mambakit/mambakit/framework/host"
	"github.com/mambakit/mambakit/framework/session"
	"github.com/mambakit/mambakit/framework/train"
)

// checkpointFlags open a trained model, where it is to run, and the
// plugin of its run.
type checkpointFlags struct {
	hf       hostFlags
	dir      string
	modality string
	place    train.Placement
}

// register adds --checkpoint, --modality, --device (what: what runs
// there), --tf32, --precision, --blas, --threads and the plugin host's
// flags to cmd.
func (c *checkpointFlags) register(cmd *cobra.Command, what string) {
	c.hf.register(cmd)
	fs := cmd.Flags()
	fs.StringVar(&c.dir, "checkpoint", "", "checkpoint directory, run directory (its latest checkpoint) or Hugging Face model directory (config.json, model.safetensors)")
	cmd.MarkFlagDirname("checkpoint")
	addModalityFlag(cmd, &c.modality, "the plugin of a model directory that does not name one (default: text when it has a tokenizer.json)")
	addDeviceFlag(fs, &c.place.Device, what)
	completeDevice(cmd)
	fs.BoolVar(&c.place.TF32, "tf32", false, "with --device cuda: TF32 tensor cores for the projections")
	addPrecisionFlag(fs, &c.place.Precision)
	completePrecision(cmd)
	addBLASFlag(fs, &c.place.BLAS)
	fs.IntVar(&c.place.Threads, "threads", 0, "on the CPU: threads (0: all cores)")
}

// open places the checkpoint's model on the device and starts its plugin.
func (c *checkpointFlags) open(ctx context.Context) (*session.Checkpoint, error) {
	if c.dir == "" {
		return nil, usagef("missing --checkpoint DIR (a checkpoint, a run directory for its latest, or a model directory)")
	}
	if err := checkPlacement(c.place); err != nil {
		return nil, err
	}
	if err := checkThreads(c.place.Threads); err != nil {
		return nil, err
	}
	return session.OpenCheckpoint(ctx, c.dir, c.modality, c.place, c.hf.start)
}

func newEvalCmd(x *invocation) *cobra.Command {
	var cf checkpointFlags
	var data []string
	var batch, seqLen int
	c := &cobra.Command{
		Use:   "eval --checkpoint DIR --data PATH... [flags]",
		Short: "bits per unit of a checkpoint on held-out files",
		RunE: func(c *cobra.Command, args []string) error {
			data = append(data, args...)
			if len(data) == 0 {
				return usagef("missing --data")
			}
			return runEval(c.Context(), &cf, data, batch, seqLen, x.stdout)
		},
	}
	cf.register(c, "where the forward passes run")
	c.Flags().StringArrayVar(&data, "data", nil, "held-out file or directory (repeatable; further arguments are inputs too)")
	c.Flags().IntVar(&batch, "batch", 0, "rows scored at once (default: the run's)")
	c.Flags().IntVar(&seqLen, "seq-len", 0, "tokens per chunk (default: the run's); the state carries across chunks")
	return c
}

func runEval(ctx context.Context, cf *checkpointFlags, data []string, batch, seqLen int, stdout io.Writer) error {
	ck, err := cf.open(ctx)
	if err != nil {
		return err
	}
	defer ck.Close()
	if batch == 0 {
		batch = ck.Info.Config.Batch
	}
	if seqLen == 0 {
		seqLen = ck.Info.Config.SeqLen
	}
	if batch < 1 || seqLen < 1 {
		return usagef("--batch %d, --seq-len %d: want ≥ 1", batch, seqLen)
	}
	e, err := ck.EvaluateFiles(ctx, data, batch, seqLen)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s, %d tokens scored, %.4f nats per token\n", ck.Info, e.Tokens, e.NatsPerToken)
	if e.Answers > 0 {
		fmt.Fprintf(stdout, "accuracy=%.6f answers=%d\n", e.Accuracy, e.Answers)
	}
	fmt.Fprintf(stdout, "bits_per_unit=%.6f unit=%s\n", e.BitsPerUnit, ck.Plugin.Info.Unit)
	return nil
}

func newScoreCmd(x *invocation) *cobra.Command {
	var cf checkpointFlags
	var seqLen int
	c := &cobra.Command{
		Use:   "score --checkpoint DIR FILE",
		Short: "per-token log-probabilities of a file under a checkpoint (CSV)",
		Args:  exactArgs(1, "one FILE to score"),
		RunE: func(c *cobra.Command, args []string) error {
			if seqLen < 1 {
				return usagef("--seq-len %d: want ≥ 1", seqLen)
			}
			return runScore(c.Context(), &cf, args, seqLen, x.stdout)
		},
	}
	cf.register(c, "where the forward passes run")
	c.Flags().IntVar(&seqLen, "seq-len", 1024, "tokens per chunk; the state carries across chunks")
	return c
}

func runScore(ctx context.Context, cf *checkpointFlags, pos []string, seqLen int, stdout io.Writer) error {
	ck, err := cf.open(ctx)
	if err != nil {
		return err
	}
	defer ck.Close()
	in, err := host.ReadInput(pos[0])
	if err != nil {
		return err
	}
	sc, err := ck.Score(ctx, pos[0], in, seqLen, stdout)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%s: %d tokens scored, %.4f bits per token\n", pos[0], sc.Tokens, sc.Bits/float64(sc.Tokens))
	return nil
}
