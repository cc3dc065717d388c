package session

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/train"
	"github.com/mambakit/mambakit/internal/atomicfile"
	"github.com/mambakit/mambakit/sdk"
)

// exportFiles are the files of a checkpoint that Export copies beside
// the weights when the checkpoint has them: the run's record (the
// modality and its settings) and a text model's tokenizer.
var exportFiles = []string{train.ModelRecordFile, TokenizerFile}

// Export writes the model of src (a checkpoint, a run directory's latest
// checkpoint, or a model directory) to out as a model directory that
// transformers' MambaForCausalLM and mambakit's eval, generate, score and
// train --init-from load: config.json and model.safetensors with the
// weights stored as dtype (backbone.Float32, or backbone.BFloat16: each
// weight rounded to the nearest bfloat16), and src's mambakit.json and
// tokenizer.json when it has them. The optimizer and the data cursor are
// not exported: a model directory does not resume a run. out must not
// exist, or be an empty directory; the files are written into a new
// directory beside it that is renamed to out at the end, so an export
// that fails leaves nothing at out. It returns the checkpoint directory
// the model came from.
func Export(src, out, dtype string) (string, error) {
	if err := backbone.CheckDType(dtype); err != nil { // before the model is read
		return "", err
	}
	if err := CheckCheckpoint(src); err != nil {
		return "", err
	}
	info, err := train.ReadRunInfo(src)
	if err != nil {
		return "", err
	}
	dir := info.Checkpoint
	if err := exportTarget(out); err != nil {
		return "", err
	}
	m, err := backbone.Load(dir)
	if err != nil {
		return "", err
	}
	parent := filepath.Dir(filepath.Clean(out))
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(out)+".export-")
	if err != nil {
		return "", err
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	if err := m.SaveAs(tmp, dtype); err != nil {
		return "", err
	}
	for _, f := range exportFiles {
		if err := copyRegular(filepath.Join(dir, f), filepath.Join(tmp, f)); err != nil {
			return "", err
		}
	}
	if err := exportTarget(out); err != nil { // made meanwhile?
		return "", err
	}
	if err := os.Remove(out); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if err := atomicfile.RenameDir(tmp, out); err != nil {
		return "", err
	}
	done = true
	return dir, nil
}

// exportTarget refuses an out that exists and is not an empty directory:
// an export never replaces what is there.
func exportTarget(out string) error {
	st, err := os.Stat(out)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s exists and is not a directory; name a new directory", out)
	}
	ents, err := os.ReadDir(out)
	if err != nil {
		return err
	}
	if len(ents) > 0 {
		return fmt.Errorf("%s is not empty (%d entries); name a new or empty directory", out, len(ents))
	}
	return nil
}

// copyRegular copies the regular file src to dst; a src that does not
// exist is skipped.
func copyRegular(src, dst string) error {
	if _, err := sdk.RegularFile(src); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	return atomicfile.CopySync(src, dst)
}
