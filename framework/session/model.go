package session

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/mambakit/mambakit/framework/train"
	"github.com/mambakit/mambakit/sdk"
)

// ModelModality returns the plugin that makes the tokens of the model
// info describes (a checkpoint or model directory): the one its run
// recorded; else name (--modality); else text when the directory holds a
// tokenizer.json (as Hugging Face's text models do). A name that
// disagrees with the recorded plugin is refused.
func ModelModality(info train.RunInfo, name string) (string, error) {
	rec := info.Modality.Name
	switch {
	case rec != "" && name != "" && name != rec:
		return "", fmt.Errorf("%s holds a %s model; modality %s cannot read its tokens", info.Checkpoint, rec, name)
	case rec != "":
		return rec, nil
	case name != "":
		return name, nil
	}
	if _, err := os.Stat(filepath.Join(info.Checkpoint, TokenizerFile)); err == nil {
		return "text", nil
	}
	return "", fmt.Errorf("%s does not say which modality made its tokens (no trainer.json, %s or %s): name the plugin (--modality)", info.Checkpoint, train.ModelRecordFile, TokenizerFile)
}

// CompleteRunInfo fills in what the model directory of info leaves open,
// once its plugin (pi) is started: the vocabulary (its tokenizer.json's,
// else the plugin's) and the special ids (the plugin's, numbered as the
// tokenizer.json has them), and checks that the model's rows embedding
// rows fit that vocabulary (train.CheckVocab), as that of any model
// directory. Checkpoints record both; those written before mambakit.json
// get their special ids here.
func CompleteRunInfo(info *train.RunInfo, pi sdk.Info, rows int) error {
	var ti *tokenizerInfo
	path := filepath.Join(info.Checkpoint, TokenizerFile)
	if _, err := os.Stat(path); err == nil {
		t, err := readTokenizer(path)
		if err != nil {
			return err
		}
		ti = &t
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if info.Special == nil {
		info.Special = pi.Special
		if ti != nil {
			info.Special = withTokenizer(pi.Special, *ti)
		}
	}
	if info.VocabSize > 0 { // recorded by the run
		if info.Model {
			return train.CheckVocab(filepath.Join(info.Checkpoint, train.ModelRecordFile)+"'s vocabulary", info.VocabSize, info.Checkpoint, rows)
		}
		return nil
	}
	what := fmt.Sprintf("the %s plugin's vocabulary", pi.Name)
	info.VocabSize = pi.VocabSize
	if ti != nil {
		what, info.VocabSize = path, ti.vocab
	}
	return train.CheckVocab(what, info.VocabSize, info.Checkpoint, rows)
}

// InitOptions returns the prepare options of a run that starts from the
// model info describes: the options its tokens were made with (its
// tokenizer.json, for text), with the user's options over them. A user's
// option that replaces one of the model's is reported on out, since the
// ids may then mean something else (the vocabulary check catches a
// different tokenizer); training a new tokenizer over a model's is
// refused.
func InitOptions(info train.RunInfo, user map[string]string, out io.Writer) (map[string]string, error) {
	o := CheckpointCodec(info)
	if _, ok := user["vocab_size"]; ok && o["tokenizer"] != "" {
		return nil, fmt.Errorf("option vocab_size trains a new tokenizer, but the model in %s comes with its own (%s): leave the option out", info.Checkpoint, TokenizerFile)
	}
	for _, k := range slices.Sorted(maps.Keys(user)) {
		if v, ok := o[k]; ok && v != user[k] {
			fmt.Fprintf(out, "warning: option %s=%s replaces the model's %s=%s; its token ids may mean something else\n", k, user[k], k, v)
		}
		o[k] = user[k]
	}
	return o, nil
}

// InitFrom sets c up to start from the model in c.InitFrom
// (train.Config.InitFromDir) and returns the modality that makes its
// tokens (ModelModality; modality is the one asked for) and the prepare
// options (InitOptions over opts), saying on out what it starts from.
func InitFrom(c *train.Config, modality string, opts map[string]string, out io.Writer) (string, map[string]string, error) {
	info, err := c.InitFromDir(c.InitFrom)
	if err != nil {
		return "", nil, err
	}
	if modality, err = ModelModality(info, modality); err != nil {
		return "", nil, err
	}
	if opts, err = InitOptions(info, opts, out); err != nil {
		return "", nil, err
	}
	fmt.Fprintf(out, "starting from the %s %s\n", modality, info)
	return modality, opts, nil
}
