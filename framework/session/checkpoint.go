package session

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/mambakit/mambakit/framework/host"
	"github.com/mambakit/mambakit/framework/train"
	"github.com/mambakit/mambakit/sdk"
)

// checkpointFiles are the files eval, generate, score and resume read from
// a checkpoint or model directory (framework/train/checkpoint.go describes
// them).
var checkpointFiles = []string{"trainer.json", "config.json", "model.safetensors", "trainer.safetensors", train.ModelRecordFile, TokenizerFile}

// CheckCheckpoint refuses a checkpoint (or a run directory, for its
// latest, or a model directory) whose files are not regular files, naming the file and its kind
// (sdk.RegularFile): the loaders would block on a named pipe or read a
// device without end. Missing files are left to the loaders, which say
// what a checkpoint needs.
func CheckCheckpoint(dir string) error {
	regular := func(name string) error {
		if _, err := sdk.RegularFile(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, "trainer.json")); err != nil { // a run directory
		if err := regular(filepath.Join(dir, "checkpoints", "latest")); err != nil {
			return err
		}
		if latest, err := train.LatestCheckpoint(dir); err == nil {
			dir = latest
		} // else a model directory, or nothing: ReadRunInfo explains
	}
	for _, f := range checkpointFiles {
		if err := regular(filepath.Join(dir, f)); err != nil {
			return err
		}
	}
	return nil
}

// Checkpoint is a trained model placed on a device, the record of its run
// and a started plugin of its modality: what eval, score and generate
// work with.
type Checkpoint struct {
	Model  train.Model
	Plugin *host.Plugin
	// Info is the run's record, completed from the plugin for a model
	// directory that has none (CompleteRunInfo).
	Info train.RunInfo
}

// OpenCheckpoint places the model of dir (a checkpoint, a run directory's
// latest, or a model directory) on place's device and starts the plugin of
// its modality with start; modality names the plugin of a model directory
// that does not record one (ModelModality).
func OpenCheckpoint(ctx context.Context, dir, modality string, place train.Placement, start Starter) (*Checkpoint, error) {
	if err := CheckCheckpoint(dir); err != nil {
		return nil, err
	}
	m, info, err := train.OpenModel(dir, place)
	if err != nil {
		return nil, err
	}
	name, err := ModelModality(info, modality)
	if err != nil {
		m.Close()
		return nil, err
	}
	p, err := start(ctx, name)
	if err != nil {
		m.Close()
		return nil, err
	}
	if err := CompleteRunInfo(&info, p.Info, m.Config().VocabSize); err != nil {
		m.Close()
		p.Close()
		return nil, err
	}
	return &Checkpoint{Model: m, Plugin: p, Info: info}, nil
}

// Close stops the plugin, then releases the model.
func (c *Checkpoint) Close() {
	c.Plugin.Close()
	c.Model.Close()
}

// Codec returns the Encode/Decode options of the checkpoint's run
// (CheckpointCodec).
func (c *Checkpoint) Codec() map[string]string { return CheckpointCodec(c.Info) }

// decode decodes tokens with the run's options.
func (c *Checkpoint) decode(ctx context.Context, t []int32) ([]byte, error) {
	return c.Plugin.Decode(ctx, sdk.DecodeRequest{Tokens: t, Options: c.Codec()})
}

// unitInfo is the plugin's description with the special ids numbered as
// the model's tokenizer numbers them.
func (c *Checkpoint) unitInfo() sdk.Info {
	info := c.Plugin.Info
	info.Special = c.Info.Special
	return info
}
