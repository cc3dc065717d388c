package text

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mambakit/mambakit/sdk"
)

// Version is the plugin's own version.
const Version = "0.1.0"

// TokenizerFile is the name of the tokenizer artifact in a dataset.
const TokenizerFile = "tokenizer.json"

// Text is the text modality. The zero value is ready to use; New returns
// one as an sdk.Modality.
type Text struct {
	// loaded tokenizer.json files, by path, size and modification time, so
	// Encode and Decode do not parse the file on every call.
	mu    sync.Mutex
	cache map[fileKey]*Tokenizer
}

type fileKey struct {
	path string
	size int64
	mod  time.Time
}

var _ sdk.Modality = (*Text)(nil)

// New returns the text modality.
func New() sdk.Modality { return &Text{} }

// Describe reports the default, the byte tokenizer (ids 0-255 are bytes,
// <|endoftext|> is 256). With vocab_size=N or tokenizer=PATH, Prepare's
// Dataset gives the actual vocabulary size and, through its splits' Units
// and Tokens, the measured bytes per token; the tokenizer.json artifact
// gives the special ids.
func (*Text) Describe(context.Context) (sdk.Info, error) {
	return sdk.Info{
		Name:          "text",
		Version:       Version,
		Kind:          sdk.KindDiscrete,
		VocabSize:     256 + 1,
		Special:       map[string]int32{"eos": 256},
		Unit:          "byte",
		UnitsPerToken: 1,
		FileTypes:     FileTypes,
	}, nil
}

// options are Prepare's (and, for the tokenizer, Encode's and Decode's)
// settings; see docs/plugins-text.md.
type options struct {
	tokenizer string // "", "bytes" or a path to tokenizer.json
	vocabSize int    // > 0: train a BPE of this size
	doc       docMode
	maxDoc    int
}

func parseOptions(opts map[string]string, prepare bool) (options, error) {
	o := options{maxDoc: DefaultMaxDocBytes}
	for k, v := range opts {
		var err error
		switch k {
		case "tokenizer":
			if v == "" {
				err = errors.New("tokenizer= needs bytes or a path to tokenizer.json")
			}
			o.tokenizer = v
		case "vocab_size":
			o.vocabSize, err = strconv.Atoi(v)
			if err == nil && (o.vocabSize < MinVocabSize || o.vocabSize > MaxVocabSize) {
				err = fmt.Errorf("%d is not in [%d, %d]", o.vocabSize, MinVocabSize, MaxVocabSize)
			}
		case "doc":
			o.doc, err = parseDocMode(v)
		case "max_doc_bytes":
			o.maxDoc, err = strconv.Atoi(v)
			if err == nil && o.maxDoc < 1 {
				err = errors.New("must be positive")
			}
		default:
			if prepare {
				err = errors.New("unknown option (known: tokenizer, vocab_size, doc, max_doc_bytes)")
			}
			// Encode and Decode ignore options that only Prepare uses.
		}
		if err != nil {
			return o, fmt.Errorf("text: option %s=%s: %v", k, v, err)
		}
	}
	if prepare && o.tokenizer != "" && o.vocabSize > 0 {
		return o, errors.New("text: options tokenizer and vocab_size exclude each other: load a tokenizer or train one")
	}
	return o, nil
}

// Prepare reads the inputs, trains or loads the tokenizer, encodes every
// document followed by <|endoftext|> on all cores, and writes the dataset
// with tokenizer.json as its artifact. Units are the bytes of each document
// (without the line break or the <|endoftext|>).
func (m *Text) Prepare(ctx context.Context, req sdk.PrepareRequest) (sdk.Dataset, error) {
	o, err := parseOptions(req.Options, true)
	if err != nil {
		return sdk.Dataset{}, err
	}
	log := sdk.Logger()
	start := time.Now()
	// A tokenizer to load is checked before the inputs are read.
	var tok *Tokenizer
	var artifact []byte
	switch o.tokenizer {
	case "", "bytes":
		if o.vocabSize == 0 {
			tok = Bytes()
		}
	default:
		path := tokenizerPath(o.tokenizer)
		artifact, err = sdk.ReadInput(path, sdk.MaxFileBytes)
		if err != nil {
			return sdk.Dataset{}, fmt.Errorf("text: tokenizer %w", err)
		}
		if tok, err = ParseTokenizerJSON(artifact); err != nil {
			return sdk.Dataset{}, fmt.Errorf("text: tokenizer %s: %w", path, err)
		}
		if tok.eosID() < 0 {
			return sdk.Dataset{}, fmt.Errorf("text: tokenizer %s has no %s token to end documents with", path, EOS)
		}
	}
	files, err := sdk.InputFiles(req.Inputs, FileTypes)
	if err != nil {
		return sdk.Dataset{}, fmt.Errorf("text: %w", err)
	}
	var docs [][]byte
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return sdk.Dataset{}, err
		}
		if docs, err = readFile(f, o.doc, o.maxDoc, docs); err != nil {
			return sdk.Dataset{}, fmt.Errorf("text: %w", err)
		}
	}
	log.Debug("text: read inputs", "files", len(files), "documents", len(docs), "seconds", time.Since(start).Seconds())

	workers := runtime.GOMAXPROCS(0)
	if tok == nil {
		t0 := time.Now()
		if tok, err = Train(ctx, docs, o.vocabSize, workers); err != nil {
			return sdk.Dataset{}, fmt.Errorf("text: training the tokenizer: %w", err)
		}
		log.Info("text: trained tokenizer", "vocab_size", tok.VocabSize(), "seconds", time.Since(t0).Seconds())
	}
	if artifact == nil {
		if artifact, err = tok.MarshalJSON(); err != nil {
			return sdk.Dataset{}, fmt.Errorf("text: writing tokenizer.json: %w", err)
		}
	}
	eos := tok.eosID() // every tokenizer here has one: checked above for a loaded one

	t0 := time.Now()
	encoded, err := encodeAll(ctx, tok, docs, eos, workers)
	if err != nil {
		return sdk.Dataset{}, err
	}
	log.Debug("text: encoded", "documents", len(docs), "seconds", time.Since(t0).Seconds())

	w, err := sdk.NewDatasetWriter(req)
	if err != nil {
		return sdk.Dataset{}, fmt.Errorf("text: %w", err)
	}
	defer w.Abort()
	w.SetVocabSize(tok.VocabSize())
	for i, ids := range encoded {
		if err := w.Add(ids, int64(len(docs[i]))); err != nil {
			return sdk.Dataset{}, fmt.Errorf("text: %w", err)
		}
	}
	if err := w.AddArtifact(TokenizerFile, artifact); err != nil {
		return sdk.Dataset{}, fmt.Errorf("text: %w", err)
	}
	ds, err := w.Finish()
	if err != nil {
		return sdk.Dataset{}, fmt.Errorf("text: %w", err)
	}
	log.Info("text: prepared", "dir", ds.Dir, "train_tokens", ds.Train.Tokens, "valid_tokens", ds.Valid.Tokens, "seconds", time.Since(start).Seconds())
	return ds, nil
}

// encodeAll encodes docs on workers goroutines, each with its own word
// cache; the result is in document order, so it does not depend on the
// number of workers.
func encodeAll(ctx context.Context, tok *Tokenizer, docs [][]byte, eos int32, workers int) ([]sdk.Tokens, error) {
	out := make([]sdk.Tokens, len(docs))
	const block = 256
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(1, workers) {
		wg.Go(func() {
			enc := newEncoder(tok)
			for ctx.Err() == nil {
				lo := int(next.Add(block)) - block
				if lo >= len(docs) {
					return
				}
				for i := lo; i < min(lo+block, len(docs)); i++ {
					ids := enc.Encode(make([]int32, 0, len(docs[i])/3+2), docs[i])
					out[i] = append(ids, eos)
				}
			}
		})
	}
	wg.Wait()
	return out, ctx.Err()
}

// tokenizerFor returns the tokenizer that Encode and Decode options name:
// tokenizer=PATH (a tokenizer.json, such as a dataset's artifact) or
// tokenizer=bytes, the default.
func (m *Text) tokenizerFor(opts map[string]string) (*Tokenizer, error) {
	o, err := parseOptions(opts, false)
	if err != nil {
		return nil, err
	}
	if o.vocabSize > 0 && o.tokenizer == "" {
		return nil, errors.New("text: vocab_size is for Prepare; Encode and Decode need tokenizer=PATH to the dataset's tokenizer.json")
	}
	if o.tokenizer == "" || o.tokenizer == "bytes" {
		return bytesTokenizer(), nil
	}
	path := tokenizerPath(o.tokenizer)
	fi, err := sdk.RegularFile(path)
	if err != nil {
		return nil, fmt.Errorf("text: tokenizer %w", err)
	}
	key := fileKey{path, fi.Size(), fi.ModTime()}
	m.mu.Lock()
	tok := m.cache[key]
	m.mu.Unlock()
	if tok != nil {
		return tok, nil
	}
	data, err := sdk.ReadInput(path, sdk.MaxFileBytes)
	if err != nil {
		return nil, fmt.Errorf("text: tokenizer %w", err)
	}
	if tok, err = ParseTokenizerJSON(data); err != nil {
		return nil, fmt.Errorf("text: tokenizer %s: %w", path, err)
	}
	m.mu.Lock()
	if m.cache == nil || len(m.cache) > 16 {
		m.cache = make(map[fileKey]*Tokenizer)
	}
	m.cache[key] = tok
	m.mu.Unlock()
	return tok, nil
}

// tokenizerPath resolves the tokenizer option: a tokenizer.json file, or a
// directory holding one (a dataset or a checkpoint).
func tokenizerPath(p string) string {
	if fi, err := os.Stat(p); err == nil && fi.IsDir() {
		return filepath.Join(p, TokenizerFile)
	}
	return p
}

// Encode encodes the bytes as they are (a name ending in .gz is gunzipped
// first). No <|endoftext|> is added, so Decode gives the input back, and
// a prompt (req.Open) is always open.
func (m *Text) Encode(ctx context.Context, req sdk.EncodeRequest) (sdk.Tokens, error) {
	tok, err := m.tokenizerFor(req.Options)
	if err != nil {
		return nil, err
	}
	data := req.Data
	if strings.HasSuffix(strings.ToLower(req.Name), ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("text: %s: not a gzip file: %w", req.Name, err)
		}
		// A few MB of gzip can inflate to gigabytes: stop past the
		// most one Encode takes (a token per byte at worst), as the host
		// refuses a plain file of that size before reading it.
		if data, err = io.ReadAll(io.LimitReader(zr, sdk.MaxEncodeBytes+1)); err != nil {
			return nil, fmt.Errorf("text: %s: %w", req.Name, err)
		}
		if len(data) > sdk.MaxEncodeBytes {
			return nil, fmt.Errorf("text: %s: more than %d bytes once gunzipped, the most one Encode call takes; use prepare, which streams files", req.Name, sdk.MaxEncodeBytes)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return newEncoder(tok).Encode(make(sdk.Tokens, 0, len(data)/3+1), data), nil
}

// Decode returns the bytes the tokens stand for; <|endoftext|> decodes to
// its text.
func (m *Text) Decode(ctx context.Context, req sdk.DecodeRequest) ([]byte, error) {
	tok, err := m.tokenizerFor(req.Options)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out, err := tok.Decode(req.Tokens)
	if err != nil {
		return nil, fmt.Errorf("text: %w", err)
	}
	return out, nil
}
