package sdk

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ReadDataset reads and checks dir/dataset.json: the format version, file
// names and counts, and that the files on disk have the sizes the counts
// imply. It does not read the token files.
func ReadDataset(dir string) (DatasetFile, error) {
	var mf DatasetFile
	data, err := os.ReadFile(filepath.Join(dir, DatasetManifest))
	if err != nil {
		return mf, fmt.Errorf("sdk: dataset %s: %w", dir, err)
	}
	if mf, err = parseManifest(data); err != nil {
		return mf, fmt.Errorf("sdk: dataset %s: %w", dir, err)
	}
	for _, s := range []SplitFile{mf.Train, mf.Valid} {
		if err := checkSize(filepath.Join(dir, s.File), s.Tokens*4); err != nil {
			return mf, fmt.Errorf("sdk: dataset %s: %w", dir, err)
		}
		if err := checkSize(filepath.Join(dir, s.DocsFile), s.Documents*8); err != nil {
			return mf, fmt.Errorf("sdk: dataset %s: %w", dir, err)
		}
	}
	return mf, nil
}

// parseManifest decodes dataset.json and checks it for consistency.
func parseManifest(data []byte) (DatasetFile, error) {
	var mf DatasetFile
	if err := json.Unmarshal(data, &mf); err != nil {
		return mf, fmt.Errorf("%s: %w", DatasetManifest, err)
	}
	if mf.Format != DatasetFormat {
		return mf, fmt.Errorf("%s: format %q, want %q (written by a newer mambakit?)", DatasetManifest, mf.Format, DatasetFormat)
	}
	if mf.VocabSize <= 0 || int64(mf.VocabSize) > 1<<31 {
		return mf, fmt.Errorf("%s: vocabulary size %d out of range", DatasetManifest, mf.VocabSize)
	}
	for name, s := range map[string]SplitFile{"train": mf.Train, "valid": mf.Valid} {
		if !plainName(s.File) || !plainName(s.DocsFile) {
			return mf, fmt.Errorf("%s: split %s: file names %q, %q are not plain names", DatasetManifest, name, s.File, s.DocsFile)
		}
		// Token counts are bounded so that byte sizes fit in int64.
		if s.Tokens < 0 || s.Tokens > 1<<60 || s.Documents < 0 || s.Documents > s.Tokens || s.Units < 0 {
			return mf, fmt.Errorf("%s: split %s: counts out of range (tokens %d, documents %d, units %d)", DatasetManifest, name, s.Tokens, s.Documents, s.Units)
		}
	}
	for _, a := range mf.Artifacts {
		if !plainName(a) {
			return mf, fmt.Errorf("%s: artifact %q is not a plain name", DatasetManifest, a)
		}
	}
	return mf, nil
}

func plainName(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, `/\`) && s == filepath.Base(s)
}

func checkSize(name string, want int64) error {
	fi, err := os.Stat(name)
	if err != nil {
		return err
	}
	if fi.Size() != want {
		return fmt.Errorf("%s: %d bytes, want %d (truncated or not a mambakit dataset)", filepath.Base(name), fi.Size(), want)
	}
	return nil
}

// SplitData is one split loaded for training: the tokens (memory-mapped
// where the platform allows; read-only, writing to them faults) and the
// document start offsets. Close releases the mapping.
type SplitData struct {
	Tokens Tokens
	// Docs holds the token offset at which each document starts; Docs[0]
	// is 0 and the offsets ascend strictly.
	Docs  []int64
	close func() error
}

// Close unmaps the tokens. The slices must not be used afterwards.
func (s *SplitData) Close() error {
	if s.close == nil {
		return nil
	}
	err := s.close()
	s.close = nil
	s.Tokens, s.Docs = nil, nil
	return err
}

// OpenSplit loads split ("train" or "valid") of the dataset in dir and
// checks it: sizes match dataset.json, every id is below the vocabulary
// size, and the document offsets are valid.
func OpenSplit(dir, split string) (*SplitData, error) {
	mf, err := ReadDataset(dir)
	if err != nil {
		return nil, err
	}
	var sf SplitFile
	switch split {
	case "train":
		sf = mf.Train
	case "valid":
		sf = mf.Valid
	default:
		return nil, fmt.Errorf("sdk: dataset %s: no split %q (want train or valid)", dir, split)
	}
	toks, closeFn, err := mapTokens(filepath.Join(dir, sf.File), sf.Tokens)
	if err != nil {
		return nil, fmt.Errorf("sdk: dataset %s: %w", dir, err)
	}
	sd := &SplitData{Tokens: toks, close: closeFn}
	raw, err := os.ReadFile(filepath.Join(dir, sf.DocsFile))
	if err != nil {
		sd.Close()
		return nil, fmt.Errorf("sdk: dataset %s: %w", dir, err)
	}
	if sd.Docs, err = decodeDocs(raw, sf.Tokens); err != nil {
		sd.Close()
		return nil, fmt.Errorf("sdk: dataset %s: %s: %w", dir, sf.DocsFile, err)
	}
	if err := checkIDs(sd.Tokens, mf.VocabSize); err != nil {
		sd.Close()
		return nil, fmt.Errorf("sdk: dataset %s: %s: %w", dir, sf.File, err)
	}
	return sd, nil
}

// decodeDocs decodes and validates a .docs file for a split of n tokens.
func decodeDocs(raw []byte, n int64) ([]int64, error) {
	if len(raw)%8 != 0 {
		return nil, fmt.Errorf("size %d is not a multiple of 8", len(raw))
	}
	docs := make([]int64, len(raw)/8)
	for i := range docs {
		docs[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
	}
	if n > 0 && (len(docs) == 0 || docs[0] != 0) {
		return nil, errors.New("first document does not start at offset 0")
	}
	for i, d := range docs {
		if d < 0 || d >= n || (i > 0 && d <= docs[i-1]) {
			return nil, fmt.Errorf("document %d starts at %d: offsets must ascend strictly within [0, %d)", i, d, n)
		}
	}
	return docs, nil
}

func checkIDs(toks Tokens, vocab int) error {
	for i, id := range toks {
		if id < 0 || int(id) >= vocab {
			return fmt.Errorf("token %d has id %d, not below the vocabulary size %d", i, uint32(id), vocab)
		}
	}
	return nil
}

// readTokens reads a token file into memory; the portable fallback of
// mapTokens.
func readTokens(name string, n int64) (Tokens, error) {
	raw, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	if int64(len(raw)) != n*4 {
		return nil, fmt.Errorf("%s: %d bytes, want %d", filepath.Base(name), len(raw), n*4)
	}
	toks := make(Tokens, n)
	for i := range toks {
		toks[i] = int32(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return toks, nil
}
