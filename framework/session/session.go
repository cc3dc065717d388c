package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/mambakit/mambakit/framework/host"
	"github.com/mambakit/mambakit/framework/train"
	"github.com/mambakit/mambakit/sdk"
)

// session joins a started plugin and the dataset it prepared: what train,
// eval and baseline need from the plugin side.
type session struct {
	plugin *host.Plugin
	// restart starts the plugin again; the first crash during a run is
	// answered by one restart (training itself does not call the plugin;
	// its samples do).
	restart      func() (*host.Plugin, error)
	restarted    bool
	dir          string // the dataset directory
	manifest     sdk.DatasetFile
	prepOpts     map[string]string
	splits       []*sdk.SplitData
	train, valid *train.Data
}

// openSession prepares the inputs through the plugin into dsDir (reusing a
// cached dataset) and loads it.
func openSession(ctx context.Context, p *host.Plugin, inputs []string, opts map[string]string, dsDir string, seed uint64, valid float64, stdout io.Writer) (*session, error) {
	fmt.Fprintf(stdout, "preparing %d input(s) with the %s plugin %s...\n", len(inputs), p.Info.Name, p.Info.Version)
	ds, cached, err := p.Prepare(ctx, sdk.PrepareRequest{Inputs: inputs, OutDir: dsDir, Options: opts, Seed: seed, ValidFraction: valid})
	if err != nil {
		return nil, err
	}
	note := ""
	if cached {
		note = " (cached)"
	}
	fmt.Fprintf(stdout, "dataset%s: train %d tokens in %d documents, validation %d tokens in %d documents, vocabulary %d\n",
		note, ds.Train.Tokens, ds.Train.Documents, ds.Valid.Tokens, ds.Valid.Documents, ds.VocabSize)
	return loadSession(p, dsDir, opts)
}

// loadSession loads a prepared dataset.
func loadSession(p *host.Plugin, dsDir string, opts map[string]string) (*session, error) {
	mf, err := sdk.ReadDataset(dsDir)
	if err != nil {
		return nil, err
	}
	s := &session{plugin: p, dir: dsDir, manifest: mf, prepOpts: opts}
	for _, sp := range []struct {
		name string
		file sdk.SplitFile
		dst  **train.Data
	}{{"train", mf.Train, &s.train}, {"valid", mf.Valid, &s.valid}} {
		d, err := sdk.OpenSplit(dsDir, sp.name)
		if err != nil {
			s.close()
			return nil, err
		}
		s.splits = append(s.splits, d)
		upt := 1.0
		if sp.file.Tokens > 0 && sp.file.Units > 0 {
			upt = float64(sp.file.Units) / float64(sp.file.Tokens)
		}
		*sp.dst = train.NewData(d.Tokens, d.Docs, upt)
		if marker, ok := p.Info.Special["answer"]; ok { // a task: score its answers
			(*sp.dst).MarkAnswers(marker)
		}
	}
	return s, nil
}

func (s *session) close() {
	for _, d := range s.splits {
		d.Close()
	}
	if s.restarted {
		s.plugin.Close() // the replacement; the caller closes the original
	}
}

// decode decodes tokens with the plugin, restarting it once if it crashed.
func (s *session) decode(ctx context.Context, tokens []int32) ([]byte, error) {
	req := sdk.DecodeRequest{Tokens: tokens, Options: codecOptions(s.prepOpts, s.dir, s.manifest.Artifacts)}
	b, err := s.plugin.Decode(ctx, req)
	var crash *sdk.CrashError
	if errors.As(err, &crash) && s.restart != nil && !s.restarted {
		np, rerr := s.restart()
		if rerr != nil {
			return nil, fmt.Errorf("%w; restarting it failed: %v", err, rerr)
		}
		s.plugin, s.restarted = np, true
		return s.plugin.Decode(ctx, req)
	}
	return b, err
}

// run builds the train.Run for this session.
func (s *session) run(dir string, c train.Config, stdout io.Writer) *train.Run {
	var arts []string
	for _, a := range s.manifest.Artifacts {
		arts = append(arts, filepath.Join(s.dir, a))
	}
	return &train.Run{
		Dir: dir, Config: c, Train: s.train, Valid: s.valid, VocabSize: s.manifest.VocabSize,
		Modality:       pluginRecord(s.plugin),
		PrepareOptions: s.prepOpts,
		Artifacts:      arts,
		StopTokens:     stopTokens(s.plugin.Info.Special),
		Sample: func(ctx context.Context, tokens []int32, dir string, step int) (string, error) {
			b, err := s.decode(ctx, tokens)
			if err != nil {
				return "", err
			}
			path := filepath.Join(dir, fmt.Sprintf("step-%08d%s", step, sampleExt(s.plugin.Info.Unit)))
			return path, os.WriteFile(path, b, 0o644)
		},
		Out:      stdout,
		Terminal: isTerminal(stdout),
	}
}

// pluginRecord identifies the plugin for config.yaml and checkpoints,
// with the SHA-256 of the executable that served it.
func pluginRecord(p *host.Plugin) train.Plugin {
	rec := train.Plugin{Name: p.Info.Name, Version: p.Info.Version, Unit: p.Info.Unit}
	if b, err := os.ReadFile(p.Entry.Path); err == nil {
		sum := sha256.Sum256(b)
		rec.Checksum = "sha256:" + hex.EncodeToString(sum[:])
	}
	return rec
}

// codecOptions are the options for Encode and Decode of data prepared with
// prepOpts into a dataset (or checkpoint) directory dir holding artifacts:
// the same options, except that a learned tokenizer is read back from dir
// instead of being trained again (the text plugin's "tokenizer" option
// takes a directory holding tokenizer.json).
func codecOptions(prepOpts map[string]string, dir string, artifacts []string) map[string]string {
	o := maps.Clone(prepOpts)
	if o == nil {
		o = map[string]string{}
	}
	if slices.Contains(artifacts, "tokenizer.json") {
		delete(o, "vocab_size")
		o["tokenizer"] = dir
	}
	return o
}

// sampleExt is the file suffix of decoded output for a modality's unit.
func sampleExt(unit string) string {
	switch unit {
	case "byte":
		return ".txt"
	case "base":
		return ".fa"
	case "sample":
		return ".wav"
	}
	return ".bin"
}

// stopTokens are a modality's end-of-document tokens: generation after one
// of them was never trained (the next document starts from a reset state).
func stopTokens(special map[string]int32) []int32 {
	var out []int32
	for _, k := range []string{"eos", "sep"} {
		if id, ok := special[k]; ok {
			out = append(out, id)
		}
	}
	return out
}
