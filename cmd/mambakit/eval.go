package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/mambakit/mambakit/framework/host"
	"github.com/mambakit/mambakit/framework/session"
	"github.com/mambakit/mambakit/framework/train"
	"github.com/mambakit/mambakit/sdk"
)

// checkpointFlags open a trained model, where it is to run, and the
// plugin of its run.
type checkpointFlags struct {
	hf       hostFlags
	dir      string
	modality string
	place    train.Placement
	info     train.RunInfo
}

// register adds --checkpoint, --modality, --device (what: what runs
// there), --tf32, --blas, --threads and the plugin host's flags to cmd.
func (c *checkpointFlags) register(cmd *cobra.Command, what string) {
	c.hf.register(cmd)
	fs := cmd.Flags()
	fs.StringVar(&c.dir, "checkpoint", "", "checkpoint directory, run directory (its latest checkpoint) or Hugging Face model directory (config.json, model.safetensors)")
	cmd.MarkFlagDirname("checkpoint")
	addModalityFlag(cmd, &c.modality, "the plugin of a model directory that does not name one (default: text when it has a tokenizer.json)")
	addDeviceFlag(fs, &c.place.Device, what)
	completeDevice(cmd)
	fs.BoolVar(&c.place.TF32, "tf32", false, "with --device cuda: TF32 tensor cores for the projections")
	addBLASFlag(fs, &c.place.BLAS)
	fs.IntVar(&c.place.Threads, "threads", 0, "on the CPU: threads (0: all cores)")
}

// open places the checkpoint's model on the device and starts its plugin.
func (c *checkpointFlags) open(ctx context.Context) (train.Model, *host.Plugin, error) {
	if c.dir == "" {
		return nil, nil, usagef("missing --checkpoint DIR (a checkpoint, a run directory for its latest, or a model directory)")
	}
	if err := checkThreads(c.place.Threads); err != nil {
		return nil, nil, err
	}
	if err := session.CheckCheckpoint(c.dir); err != nil {
		return nil, nil, err
	}
	m, info, err := train.OpenModel(c.dir, c.place)
	if err != nil {
		return nil, nil, err
	}
	c.info = info
	name, err := session.ModelModality(info, c.modality)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	p, err := c.hf.start(ctx, name)
	if err != nil {
		m.Close()
		return nil, nil, err
	}
	if err := session.CompleteRunInfo(&c.info, p.Info, m.Config().VocabSize); err != nil {
		m.Close()
		p.Close()
		return nil, nil, err
	}
	return m, p, nil
}

// codec returns the Encode/Decode options of the checkpoint's run.
func (c *checkpointFlags) codec() map[string]string { return session.CheckpointCodec(c.info) }

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
	m, p, err := cf.open(ctx)
	if err != nil {
		return err
	}
	defer m.Close()
	defer p.Close()
	if batch == 0 {
		batch = cf.info.Config.Batch
	}
	if seqLen == 0 {
		seqLen = cf.info.Config.SeqLen
	}
	if batch < 1 || seqLen < 1 {
		return usagef("--batch %d, --seq-len %d: want ≥ 1", batch, seqLen)
	}
	tmp, err := os.MkdirTemp("", "mambakit-eval-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// Prepare splits documents into two parts; both are held-out data here.
	s, err := session.Open(ctx, p, data, cf.codec(), filepath.Join(tmp, "data"), 1, 0.5, io.Discard)
	if err != nil {
		return err
	}
	defer s.Close()
	e, err := s.Evaluate(ctx, m, batch, seqLen)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s, %d tokens scored, %.4f nats per token\n", cf.info, e.Tokens, e.NatsPerToken)
	if e.Answers > 0 {
		fmt.Fprintf(stdout, "accuracy=%.6f answers=%d\n", e.Accuracy, e.Answers)
	}
	fmt.Fprintf(stdout, "bits_per_unit=%.6f unit=%s\n", e.BitsPerUnit, p.Info.Unit)
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
	m, p, err := cf.open(ctx)
	if err != nil {
		return err
	}
	defer m.Close()
	defer p.Close()
	in, err := host.ReadInput(pos[0])
	if err != nil {
		return err
	}
	ids, err := p.Encode(ctx, sdk.EncodeRequest{Data: in, Name: pos[0], Options: cf.codec()})
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	for i, id := range ids {
		if int(id) >= m.Config().VocabSize {
			return fmt.Errorf("%s: token %d at position %d is outside the model's vocabulary of %d", pos[0], id, i, m.Config().VocabSize)
		}
	}
	decode := func(ctx context.Context, t []int32) ([]byte, error) {
		return p.Decode(ctx, sdk.DecodeRequest{Tokens: t, Options: cf.codec()})
	}
	info := p.Info
	info.Special = cf.info.Special // as the model's tokenizer numbers them
	units, err := session.UnitTexts(ctx, decode, info, ids)
	if err != nil {
		return err
	}
	w := csv.NewWriter(stdout)
	w.Write([]string{"position", "token", "decoded", "logprob_nats", "bits"})
	var total float64
	err = train.Score(ctx, m, ids, seqLen, func(t int, lp float64) error {
		total -= lp
		return w.Write([]string{strconv.Itoa(t), strconv.Itoa(int(ids[t])), units[ids[t]], strconv.FormatFloat(lp, 'f', 6, 64), strconv.FormatFloat(-lp/math.Ln2, 'f', 6, 64)})
	})
	if err != nil {
		return err
	}
	if w.Flush(); w.Error() != nil {
		return w.Error()
	}
	fmt.Fprintf(os.Stderr, "%s: %d tokens scored, %.4f bits per token\n", pos[0], len(ids)-1, total/math.Ln2/float64(len(ids)-1))
	return nil
}
