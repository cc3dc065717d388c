package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/host"
	"github.com/mambakit/mambakit/framework/train"
	"github.com/mambakit/mambakit/sdk"
)

// checkpointFlags open a trained model and the plugin of its run.
type checkpointFlags struct {
	hf   hostFlags
	dir  string
	info train.RunInfo
}

// register adds --checkpoint and the plugin host's flags to fs.
func (c *checkpointFlags) register(fs *flag.FlagSet) {
	c.hf.register(fs)
	fs.StringVar(&c.dir, "checkpoint", "", "checkpoint directory (or run directory: its latest checkpoint)")
}

func (c *checkpointFlags) open() (*backbone.Model, *host.Plugin, error) {
	if c.dir == "" {
		return nil, nil, errors.New("missing --checkpoint DIR (a checkpoint, or a run directory for its latest)")
	}
	info, err := train.ReadRunInfo(c.dir)
	if err != nil {
		return nil, nil, err
	}
	c.info = info
	m, err := backbone.Load(info.Checkpoint)
	if err != nil {
		return nil, nil, err
	}
	p, err := startPlugin(&c.hf, info.Modality.Name)
	if err != nil {
		return nil, nil, err
	}
	return m, p, nil
}

// codec returns the Encode/Decode options of the checkpoint's run.
func (c *checkpointFlags) codec() map[string]string {
	var arts []string
	if _, err := os.Stat(filepath.Join(c.info.Checkpoint, "tokenizer.json")); err == nil {
		arts = append(arts, "tokenizer.json")
	}
	return codecOptions(c.info.PrepareOptions, c.info.Checkpoint, arts)
}

func runEval(args []string, stdout io.Writer) error {
	var cf checkpointFlags
	var data listFlag
	var batch, seqLen int
	fs := newFlagSet("eval", "eval --checkpoint DIR --data PATH... [flags]")
	cf.register(fs)
	fs.Var(&data, "data", "held-out file or directory (repeatable; further arguments are inputs too)")
	fs.IntVar(&batch, "batch", 0, "rows scored at once (default: the run's)")
	fs.IntVar(&seqLen, "seq-len", 0, "tokens per chunk (default: the run's); the state carries across chunks")
	var device string
	addDeviceFlag(fs, &device, "where the forward passes run")
	tf32 := fs.Bool("tf32", false, "with --device cuda: TF32 tensor cores for the projections")
	addBLASFlag(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	data = append(data, pos...)
	if len(data) == 0 {
		return errors.New("missing --data")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	m, p, err := cf.open()
	if err != nil {
		return err
	}
	defer p.Close()
	if batch == 0 {
		batch = cf.info.Config.Batch
	}
	if seqLen == 0 {
		seqLen = cf.info.Config.SeqLen
	}
	if batch < 1 || seqLen < 1 {
		return fmt.Errorf("--batch %d, --seq-len %d: want ≥ 1", batch, seqLen)
	}
	tmp, err := os.MkdirTemp("", "mambakit-eval-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// Prepare splits documents into two parts; both are held-out data here.
	s, err := openSession(ctx, p, data, cf.codec(), filepath.Join(tmp, "data"), 1, 0.5, io.Discard)
	if err != nil {
		return err
	}
	defer s.close()
	if s.manifest.VocabSize > m.Config.VocabSize {
		return fmt.Errorf("the data has %d token ids, the model only %d: was it encoded with another tokenizer?", s.manifest.VocabSize, m.Config.VocabSize)
	}
	evaluate := func(d *train.Data) (train.Eval, error) { return train.Evaluate(ctx, m, d, batch, seqLen, 0) }
	if device == "cuda" {
		dev, g, err := openCUDAModel(m)
		if err != nil {
			return err
		}
		defer dev.Close()
		defer g.Close()
		if err := g.SetTF32(*tf32); err != nil {
			return err
		}
		evaluate = func(d *train.Data) (train.Eval, error) {
			ge, err := g.Evaluate(ctx, d.Tokens, d.Start, d.Answer, batch, seqLen, 0)
			e := train.Eval{Tokens: ge.Tokens, Answers: ge.Answers}
			if ge.Tokens > 0 {
				e.NatsPerToken = ge.Nats / float64(ge.Tokens)
			}
			if ge.Answers > 0 {
				e.Accuracy = float64(ge.Correct) / float64(ge.Answers)
			}
			return e, err
		}
	}
	var nats, units, correct float64
	var tokens, answers int64
	for _, d := range []*train.Data{s.train, s.valid} {
		e, err := evaluate(d)
		if err != nil {
			return err
		}
		nats += e.NatsPerToken * float64(e.Tokens)
		units += float64(e.Tokens) * d.UnitsPerToken
		tokens += e.Tokens
		answers += e.Answers
		correct += e.Accuracy * float64(e.Answers)
	}
	unit := p.Info.Unit
	fmt.Fprintf(stdout, "checkpoint %s (step %d), %d tokens scored, %.4f nats per token\n", cf.info.Checkpoint, cf.info.Step, tokens, nats/float64(tokens))
	if answers > 0 {
		fmt.Fprintf(stdout, "accuracy=%.6f answers=%d\n", correct/float64(answers), answers)
	}
	fmt.Fprintf(stdout, "bits_per_unit=%.6f unit=%s\n", nats/math.Ln2/units, unit)
	return nil
}

func runScore(args []string, stdout io.Writer) error {
	var cf checkpointFlags
	var seqLen int
	fs := newFlagSet("score", "score --checkpoint DIR FILE")
	cf.register(fs)
	fs.IntVar(&seqLen, "seq-len", 1024, "tokens per chunk; the state carries across chunks")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("want one FILE to score, got %d", len(pos))
	}
	if seqLen < 1 {
		return fmt.Errorf("--seq-len %d: want ≥ 1", seqLen)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	m, p, err := cf.open()
	if err != nil {
		return err
	}
	defer p.Close()
	in, err := readInput(pos[0])
	if err != nil {
		return err
	}
	ids, err := p.Encode(ctx, sdk.EncodeRequest{Data: in, Name: pos[0], Options: cf.codec()})
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	for i, id := range ids {
		if int(id) >= m.Config.VocabSize {
			return fmt.Errorf("%s: token %d at position %d is outside the model's vocabulary of %d", pos[0], id, i, m.Config.VocabSize)
		}
	}
	fmt.Fprintln(stdout, "position,token,logprob_nats,bits")
	var total float64
	err = train.Score(ctx, m, ids, seqLen, func(t int, lp float64) error {
		total -= lp
		_, err := fmt.Fprintf(stdout, "%d,%d,%.6f,%.6f\n", t, ids[t], lp, -lp/math.Ln2)
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%s: %d tokens scored, %.4f bits per token\n", pos[0], len(ids)-1, total/math.Ln2/float64(len(ids)-1))
	return nil
}
