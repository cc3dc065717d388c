package session

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

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
