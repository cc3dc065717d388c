package sdk

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mambakit/mambakit/internal/atomicfile"
)

// On-disk dataset format, version 1 (docs/protocol.md, "Dataset format").
//
// A dataset is one directory:
//
//	dataset.json    the Dataset plus format version and statistics (DatasetFile)
//	train.tokens    token ids, little-endian uint32, all training documents back to back
//	train.docs      start offset (in tokens) of each training document, little-endian int64, ascending, first is 0
//	valid.tokens    the same for the validation split
//	valid.docs
//	<artifacts>     plugin files such as tokenizer.json
//
// The host memory-maps the .tokens files and uses the .docs offsets to reset
// the recurrent state at every document start when it packs documents into
// training sequences.
const (
	// DatasetFormat names the format in dataset.json; a reader refuses any
	// other value.
	DatasetFormat = "mambakit-dataset/v1"
	// DatasetManifest is the name of the manifest file in a dataset directory.
	DatasetManifest = "dataset.json"

	tokensSuffix = ".tokens"
	docsSuffix   = ".docs"
)

// DatasetFile is the content of dataset.json.
type DatasetFile struct {
	Format        string    `json:"format"` // DatasetFormat
	VocabSize     int       `json:"vocab_size"`
	Seed          uint64    `json:"seed"`
	ValidFraction float64   `json:"valid_fraction"`
	Train         SplitFile `json:"train"`
	Valid         SplitFile `json:"valid"`
	Artifacts     []string  `json:"artifacts,omitempty"`
	// Units is the total number of units (bytes, bases, samples) of both
	// splits; UnitsPerToken = Units / tokens, the measured ratio.
	Units         int64   `json:"units"`
	UnitsPerToken float64 `json:"units_per_token"`
}

// SplitFile is one split as recorded in dataset.json.
type SplitFile struct {
	File      string `json:"file"`      // "train.tokens"
	DocsFile  string `json:"docs_file"` // "train.docs"
	Tokens    int64  `json:"tokens"`
	Units     int64  `json:"units"`
	Documents int64  `json:"documents"`
}

// DatasetWriter writes a dataset in the on-disk format. A plugin's Prepare
// creates one with NewDatasetWriter, calls Add once per document in a fixed
// order (input order, never map order), and returns what Finish returns.
//
// Each document goes to the train or the validation split by a hash of the
// request's seed and the document's index (the number of earlier Add calls),
// so the split depends only on the seed and the order of documents. Finish
// makes sure neither split is empty by moving the last document, or the tail
// of the only document, across.
//
// Everything is written into a temporary directory beside req.OutDir
// (".NAME.partial") that Finish syncs and renames into place: a process
// killed half way leaves no dataset at req.OutDir, and a rerun removes the
// leftover and starts over. Only one writer may target an OutDir at a time.
//
// A DatasetWriter is not safe for concurrent use: Add decides the split from
// the call order.
type DatasetWriter struct {
	req     PrepareRequest
	out     string // absolute req.OutDir
	tmp     string // temporary directory being written
	vocab   int    // set by SetVocabSize; 0 means max id + 1
	maxID   int32
	index   uint64 // documents seen, including empty ones
	splits  [2]*splitWriter
	arts    []string
	scratch []byte
	done    bool
}

// NewDatasetWriter starts a dataset for req. It fails when req.OutDir exists
// and is neither empty nor a dataset holding only its own files, so a
// mistyped -o never deletes unrelated files.
func NewDatasetWriter(req PrepareRequest) (*DatasetWriter, error) {
	if req.OutDir == "" {
		return nil, errors.New("sdk: dataset: empty output directory")
	}
	if !(req.ValidFraction > 0 && req.ValidFraction < 1) {
		return nil, fmt.Errorf("sdk: dataset: valid fraction %v is not in (0, 1)", req.ValidFraction)
	}
	out, err := filepath.Abs(req.OutDir)
	if err != nil {
		return nil, fmt.Errorf("sdk: dataset: %w", err)
	}
	if err := checkReplaceable(out); err != nil {
		return nil, err
	}
	parent := filepath.Dir(out)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("sdk: dataset: %w", err)
	}
	tmp := partialName(out)
	// A leftover from a killed run: nobody else may write here (see the
	// type's doc), so it is ours to remove.
	if err := os.RemoveAll(tmp); err != nil {
		return nil, fmt.Errorf("sdk: dataset: removing leftover %s: %w", tmp, err)
	}
	_ = os.RemoveAll(oldName(out))
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("sdk: dataset: %w", err)
	}
	w := &DatasetWriter{req: req, out: out, tmp: tmp, maxID: -1}
	for i, name := range [2]string{"train", "valid"} {
		s, err := newSplitWriter(tmp, name)
		if err != nil {
			w.Abort()
			return nil, err
		}
		w.splits[i] = s
	}
	return w, nil
}

func partialName(out string) string {
	return filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".partial")
}

func oldName(out string) string {
	return filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".old")
}

// checkReplaceable reports whether a dataset may be written at dir: it does
// not exist, is an empty directory, or holds a dataset and nothing else
// (the files its dataset.json names, and hidden .mambakit-* files the host
// keeps there), so that replacing it deletes no one's other files.
func checkReplaceable(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sdk: dataset: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("sdk: dataset: output %s exists and is not a directory", dir)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("sdk: dataset: %w", err)
	}
	if len(ents) == 0 {
		return nil
	}
	known := map[string]bool{}
	if data, err := os.ReadFile(filepath.Join(dir, DatasetManifest)); err == nil {
		if mf, err := parseManifest(data); err == nil {
			known[DatasetManifest] = true
			for _, f := range append([]string{mf.Train.File, mf.Train.DocsFile, mf.Valid.File, mf.Valid.DocsFile}, mf.Artifacts...) {
				known[f] = true
			}
		}
	}
	if !known[DatasetManifest] {
		return fmt.Errorf("sdk: dataset: output %s is a non-empty directory without a valid %s; refusing to replace it", dir, DatasetManifest)
	}
	for _, e := range ents {
		if !known[e.Name()] && !strings.HasPrefix(e.Name(), ".mambakit-") {
			return fmt.Errorf("sdk: dataset: output %s holds a dataset and also %s; refusing to replace it (move that file, or choose another -o)", dir, e.Name())
		}
	}
	return nil
}

// SetVocabSize records the vocabulary size (for a learned vocabulary, once
// it is known). Finish fails if a token id is not below it. Without a call,
// the vocabulary size is the largest id added plus one.
func (w *DatasetWriter) SetVocabSize(n int) { w.vocab = n }

// Add appends one document: its tokens and the number of units (bytes,
// bases, samples) they stand for. Empty documents are counted for the
// split assignment but not stored. Token ids must not be negative.
func (w *DatasetWriter) Add(doc Tokens, units int64) error {
	if w.done {
		return errors.New("sdk: dataset: Add after Finish or Abort")
	}
	if units < 0 {
		return fmt.Errorf("sdk: dataset: document %d has negative units %d", w.index, units)
	}
	idx := w.index
	w.index++
	if len(doc) == 0 {
		return nil
	}
	maxID := w.maxID
	for i, id := range doc {
		if id < 0 {
			return fmt.Errorf("sdk: dataset: document %d: token %d has negative id %d", idx, i, id)
		}
		maxID = max(maxID, id)
	}
	w.maxID = maxID
	s := w.splits[0]
	if splitDraw(w.req.Seed, idx) < w.req.ValidFraction {
		s = w.splits[1]
	}
	w.scratch = appendTokens(w.scratch[:0], doc)
	return s.add(w.scratch, int64(len(doc)), units)
}

// AddArtifact stores a file (such as tokenizer.json) in the dataset and lists
// it in Dataset.Artifacts. name is a plain file name.
func (w *DatasetWriter) AddArtifact(name string, data []byte) error {
	if w.done {
		return errors.New("sdk: dataset: AddArtifact after Finish or Abort")
	}
	if name == "" || name != filepath.Base(name) || name == "." || name == ".." || reservedName(name) {
		return fmt.Errorf("sdk: dataset: artifact name %q is not a plain file name, or is reserved", name)
	}
	if slices.Contains(w.arts, name) {
		return fmt.Errorf("sdk: dataset: artifact %q added twice", name)
	}
	if err := atomicfile.WriteSync(filepath.Join(w.tmp, name), data); err != nil {
		return fmt.Errorf("sdk: dataset: %w", err)
	}
	w.arts = append(w.arts, name)
	return nil
}

func reservedName(name string) bool {
	switch name {
	case DatasetManifest, "train.tokens", "train.docs", "valid.tokens", "valid.docs":
		return true
	}
	return false
}

// Abort removes the temporary directory. It is safe to call after Finish
// (it then does nothing) and more than once; Prepare defers it.
func (w *DatasetWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	for _, s := range w.splits {
		if s != nil {
			s.close()
		}
	}
	os.RemoveAll(w.tmp)
}

// Finish completes the dataset: it balances the splits, writes dataset.json,
// syncs every file and renames the directory to req.OutDir, replacing an
// earlier dataset there.
func (w *DatasetWriter) Finish() (Dataset, error) {
	if w.done {
		return Dataset{}, errors.New("sdk: dataset: Finish called twice or after Abort")
	}
	ds, err := w.finish()
	if err != nil {
		w.Abort()
		return Dataset{}, err
	}
	w.done = true
	return ds, nil
}

func (w *DatasetWriter) finish() (Dataset, error) {
	train, valid := w.splits[0], w.splits[1]
	for _, s := range w.splits {
		if err := s.flush(); err != nil {
			return Dataset{}, err
		}
	}
	total := train.tokens + valid.tokens
	if total < 2 {
		return Dataset{}, fmt.Errorf("sdk: dataset: %d tokens from %d documents; need at least 2 to split into train and validation", total, w.index)
	}
	// Balance: neither split may be empty. With one document, its tail
	// becomes the other split.
	if valid.docs() == 0 {
		k := int64(math.Ceil(float64(total) * w.req.ValidFraction))
		if err := moveTail(train, valid, k); err != nil {
			return Dataset{}, err
		}
	} else if train.docs() == 0 {
		k := int64(math.Ceil(float64(total) * (1 - w.req.ValidFraction)))
		if err := moveTail(valid, train, k); err != nil {
			return Dataset{}, err
		}
	}
	vocab := w.vocab
	if vocab == 0 {
		vocab = int(w.maxID) + 1
	} else if int(w.maxID) >= vocab {
		return Dataset{}, fmt.Errorf("sdk: dataset: token id %d is not below the vocabulary size %d", w.maxID, vocab)
	}
	for _, s := range w.splits {
		if err := s.sync(); err != nil {
			return Dataset{}, err
		}
	}
	units := train.units + valid.units
	mf := DatasetFile{
		Format:        DatasetFormat,
		VocabSize:     vocab,
		Seed:          w.req.Seed,
		ValidFraction: w.req.ValidFraction,
		Train:         train.file(),
		Valid:         valid.file(),
		Artifacts:     w.arts,
		Units:         units,
		UnitsPerToken: float64(units) / float64(train.tokens+valid.tokens),
	}
	js, err := json.MarshalIndent(mf, "", "  ")
	if err != nil {
		return Dataset{}, fmt.Errorf("sdk: dataset: %w", err)
	}
	if err := atomicfile.WriteSync(filepath.Join(w.tmp, DatasetManifest), append(js, '\n')); err != nil {
		return Dataset{}, fmt.Errorf("sdk: dataset: %w", err)
	}
	if err := atomicfile.SyncDir(w.tmp); err != nil {
		return Dataset{}, err
	}
	if err := replaceDir(w.tmp, w.out); err != nil {
		return Dataset{}, err
	}
	return mf.Dataset(w.out), nil
}

// Dataset converts the manifest to the API type for a dataset in dir.
func (mf DatasetFile) Dataset(dir string) Dataset {
	sp := func(s SplitFile) Split {
		return Split{File: s.File, DocsFile: s.DocsFile, Tokens: s.Tokens, Units: s.Units, Documents: s.Documents}
	}
	return Dataset{
		Dir:       dir,
		VocabSize: mf.VocabSize,
		Train:     sp(mf.Train),
		Valid:     sp(mf.Valid),
		Artifacts: slices.Clone(mf.Artifacts),
	}
}

// replaceDir renames tmp to out. An earlier dataset at out is first renamed
// aside and removed afterwards; a kill in between leaves no dataset at out
// (and a leftover that the next NewDatasetWriter removes).
func replaceDir(tmp, out string) error {
	if _, err := os.Lstat(out); err == nil {
		old := oldName(out)
		if err := os.Rename(out, old); err != nil {
			return fmt.Errorf("sdk: dataset: moving the earlier dataset aside: %w", err)
		}
		defer os.RemoveAll(old)
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("sdk: dataset: %w", err)
	}
	return atomicfile.SyncDir(filepath.Dir(out))
}

// splitDraw maps (seed, document index) to a uniform number in [0, 1). It is
// SplitMix64 applied twice, so neighbouring indices and seeds are unrelated.
func splitDraw(seed, index uint64) float64 {
	h := mix64(seed ^ mix64(index+0x9e3779b97f4a7c15))
	return float64(h>>11) / (1 << 53)
}

func mix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// splitWriter appends documents to NAME.tokens and NAME.docs.
type splitWriter struct {
	name       string
	tokF, docF *os.File
	tokW, docW *bufio.Writer
	tokens     int64
	units      int64
	starts     int64 // documents written
	lastUnits  int64 // units of the last document, for moving it
	lastStart  int64
}

func newSplitWriter(dir, name string) (*splitWriter, error) {
	tf, err := os.Create(filepath.Join(dir, name+tokensSuffix))
	if err != nil {
		return nil, fmt.Errorf("sdk: dataset: %w", err)
	}
	df, err := os.Create(filepath.Join(dir, name+docsSuffix))
	if err != nil {
		tf.Close()
		return nil, fmt.Errorf("sdk: dataset: %w", err)
	}
	return &splitWriter{
		name: name, tokF: tf, docF: df,
		tokW: bufio.NewWriterSize(tf, 1<<20), docW: bufio.NewWriterSize(df, 64<<10),
	}, nil
}

func (s *splitWriter) docs() int64 { return s.starts }

func (s *splitWriter) file() SplitFile {
	return SplitFile{File: s.name + tokensSuffix, DocsFile: s.name + docsSuffix, Tokens: s.tokens, Units: s.units, Documents: s.starts}
}

// add appends one document of n tokens, already encoded in enc.
func (s *splitWriter) add(enc []byte, n, units int64) error {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(s.tokens))
	if _, err := s.docW.Write(b[:]); err != nil {
		return fmt.Errorf("sdk: dataset: %w", err)
	}
	if _, err := s.tokW.Write(enc); err != nil {
		return fmt.Errorf("sdk: dataset: %w", err)
	}
	s.lastStart, s.lastUnits = s.tokens, units
	s.tokens += n
	s.units += units
	s.starts++
	return nil
}

// addFrom appends n tokens read from src at token offset off, as one
// document.
func (s *splitWriter) addFrom(src *splitWriter, off, n, units int64) error {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(s.tokens))
	if _, err := s.docW.Write(b[:]); err != nil {
		return fmt.Errorf("sdk: dataset: %w", err)
	}
	if _, err := io.Copy(s.tokW, io.NewSectionReader(src.tokF, off*4, n*4)); err != nil {
		return fmt.Errorf("sdk: dataset: %w", err)
	}
	s.lastStart, s.lastUnits = s.tokens, units
	s.tokens += n
	s.units += units
	s.starts++
	return s.flush()
}

// shrinkLast cuts the last document to its first n tokens and units.
func (s *splitWriter) shrinkLast(n, units int64) error {
	if n == 0 {
		if err := s.docF.Truncate((s.starts - 1) * 8); err != nil {
			return fmt.Errorf("sdk: dataset: %w", err)
		}
		s.starts--
	}
	if err := s.tokF.Truncate((s.lastStart + n) * 4); err != nil {
		return fmt.Errorf("sdk: dataset: %w", err)
	}
	for _, f := range []*os.File{s.tokF, s.docF} {
		if _, err := f.Seek(0, io.SeekEnd); err != nil {
			return fmt.Errorf("sdk: dataset: %w", err)
		}
	}
	s.tokens = s.lastStart + n
	s.units -= s.lastUnits - units
	s.lastUnits = units
	return nil
}

// moveTail balances an empty split dst by moving tokens from src: src's
// whole last document when src has several, else the last k tokens of its
// only document (at least one token stays on each side; the units are
// shared in proportion).
func moveTail(src, dst *splitWriter, k int64) error {
	start, n, units := src.lastStart, src.tokens-src.lastStart, src.lastUnits
	if src.starts >= 2 {
		if err := dst.addFrom(src, start, n, units); err != nil {
			return err
		}
		return src.shrinkLast(0, 0)
	}
	k = min(max(k, 1), n-1)
	tailUnits := units * k / n
	if err := dst.addFrom(src, start+n-k, k, tailUnits); err != nil {
		return err
	}
	return src.shrinkLast(n-k, units-tailUnits)
}

func (s *splitWriter) flush() error {
	if err := s.tokW.Flush(); err != nil {
		return fmt.Errorf("sdk: dataset: %w", err)
	}
	if err := s.docW.Flush(); err != nil {
		return fmt.Errorf("sdk: dataset: %w", err)
	}
	return nil
}

func (s *splitWriter) sync() error {
	if err := s.flush(); err != nil {
		return err
	}
	for _, f := range []*os.File{s.tokF, s.docF} {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("sdk: dataset: %w", err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("sdk: dataset: %w", err)
		}
	}
	return nil
}

func (s *splitWriter) close() {
	s.tokF.Close()
	s.docF.Close()
}

// RemovePartial removes what a writer killed half way through a dataset
// for outDir left behind. The next NewDatasetWriter for outDir does the
// same; the host calls it after a failed Prepare so nothing is left.
func RemovePartial(outDir string) error {
	out, err := filepath.Abs(outDir)
	if err != nil {
		return err
	}
	return errors.Join(os.RemoveAll(partialName(out)), os.RemoveAll(oldName(out)))
}
