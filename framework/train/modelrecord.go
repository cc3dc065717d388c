package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/internal/atomicfile"
)

// ModelRecordFile is the file in every checkpoint that says how the
// model's token ids are made: the plugin, its options, the vocabulary and
// the special ids. Hugging Face tools ignore it; with config.json,
// model.safetensors (and tokenizer.json for text) it makes a model
// directory that eval, generate and score read without trainer.json or
// the run directory.
const ModelRecordFile = "mambakit.json"

// modelRecordFormat is the version of mambakit.json's layout.
const modelRecordFormat = 1

// modelRecord is mambakit.json.
type modelRecord struct {
	Format   int    `json:"format"`
	Modality Plugin `json:"modality"`
	// VocabSize is the number of token ids the plugin makes (the model's
	// embedding may have more rows: padding).
	VocabSize      int               `json:"vocab_size"`
	PrepareOptions map[string]string `json:"prepare_options,omitempty"`
	Special        map[string]int32  `json:"special,omitempty"`
}

func writeModelRecord(dir string, rec modelRecord) error {
	rec.Format = modelRecordFormat
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteSync(filepath.Join(dir, ModelRecordFile), append(b, '\n'))
}

// readModelRecord reads dir's mambakit.json; ok is false when there is
// none.
func readModelRecord(dir string) (rec modelRecord, ok bool, err error) {
	path := filepath.Join(dir, ModelRecordFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return rec, false, nil
	}
	if err != nil {
		return rec, false, fmt.Errorf("checkpoint: %w", err)
	}
	if rec, err = parseModelRecord(b); err != nil {
		return rec, false, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return rec, true, nil
}

// parseModelRecord decodes and checks mambakit.json.
func parseModelRecord(b []byte) (modelRecord, error) {
	var rec modelRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, err
	}
	switch {
	case rec.Format != modelRecordFormat:
		return rec, fmt.Errorf("format %d: want %d", rec.Format, modelRecordFormat)
	case rec.Modality.Name == "":
		return rec, errors.New("modality.name is empty")
	case rec.VocabSize < 1 || rec.VocabSize > maxVocab:
		return rec, fmt.Errorf("vocab_size %d: want 1..%d", rec.VocabSize, maxVocab)
	}
	for name, id := range rec.Special {
		if id < 0 || int(id) >= rec.VocabSize {
			return rec, fmt.Errorf("special %q = %d: want 0..vocab_size-1 (%d)", name, id, rec.VocabSize-1)
		}
	}
	return rec, nil
}

// maxVocab bounds vocabulary sizes read from files (backbone's limit).
const maxVocab = 1 << 22

// vocabPadding is how many embedding rows beyond the tokenizer's
// vocabulary a model may have: Hugging Face's Mamba checkpoints pad to a
// multiple of 8 (mamba-130m-hf: 50280 rows for 50277 tokens), others to 64
// or 128.
const vocabPadding = 128

// CheckVocab checks that a model with rows embedding rows (from, a
// directory, names it) fits a vocabulary of n token ids (what names it):
// n ≤ rows, and rows no more than the padding of n to a multiple of 128.
// More rows than that means the model was made for another tokenizer.
func CheckVocab(what string, n int, from string, rows int) error {
	switch {
	case n > rows:
		return fmt.Errorf("%s has %d token ids, the model in %s only %d embedding rows: the model was made for another tokenizer or modality", what, n, from, rows)
	case rows > (n+vocabPadding-1)/vocabPadding*vocabPadding:
		return fmt.Errorf("%s has %d token ids, the model in %s %d embedding rows (more than padding to a multiple of %d): the model was made for another tokenizer or modality", what, n, from, rows, vocabPadding)
	}
	return nil
}

// specialIDs sets config.json's bos, eos and pad ids from a modality's
// special tokens, so that transformers' generate stops where the model
// learned to, and starts where training starts a document: eos is "eos"
// (else "sep"); bos is eos too, the token before every document in
// training (as GPT-NeoX's <|endoftext|>; a "bos" the modality declares but
// never puts in its data, as DNA's [BOS], was never trained); pad is
// "pad", else eos. Without special tokens the config is left as it is.
func specialIDs(c *backbone.Config, special map[string]int32) {
	eos, ok := special["eos"]
	if !ok {
		if eos, ok = special["sep"]; !ok {
			return
		}
	}
	c.EOSTokenID, c.BOSTokenID, c.PadTokenID = int(eos), int(eos), int(eos)
	if id, ok := special["pad"]; ok {
		c.PadTokenID = int(id)
	}
}
