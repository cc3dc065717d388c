package dna

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/biogo/biogo/alphabet"
	"github.com/biogo/biogo/io/seqio/fasta"
	"github.com/biogo/biogo/seq/linear"

	"github.com/mambakit/mambakit/sdk"
)

// Version is the plugin's own version, reported by Describe.
const Version = "0.1.0"

// Defaults for the options (see the package doc).
const (
	defaultDocLen    = 32768 // bases per prepared document
	defaultLineWidth = 80    // FASTA line width written by Decode
)

// fileTypes are the suffixes Prepare picks up in a directory. A file named
// on its own is read whatever its name: the format is sniffed.
var fileTypes = []string{
	".fa", ".fasta", ".fna", ".fas", ".fq", ".fastq",
	".fa.gz", ".fasta.gz", ".fna.gz", ".fas.gz", ".fq.gz", ".fastq.gz",
}

// DNA is the DNA modality. The zero value is ready to use and safe for
// concurrent use: it holds no state.
type DNA struct{}

// New returns the DNA modality.
func New() sdk.Modality { return DNA{} }

// Describe reports the vocabulary (package doc) and the unit, the base.
func (DNA) Describe(context.Context) (sdk.Info, error) {
	return sdk.Info{
		Name:          "dna",
		Version:       Version,
		Kind:          sdk.KindDiscrete,
		VocabSize:     vocabSize,
		Special:       specials(),
		Unit:          "base",
		UnitsPerToken: 1,
		FileTypes:     slices.Clone(fileTypes),
	}, nil
}

func specials() map[string]int32 {
	return map[string]int32{
		"cls": tokCLS, "sep": tokSEP, "eos": tokSEP, "bos": tokBOS, "mask": tokMASK,
		"pad": tokPAD, "reserved": tokRESERVED, "unk": tokUNK,
	}
}

// options are the parsed request options.
type options struct {
	docLen    int
	rcAug     string // none | random | both
	revcomp   bool
	maxLine   int
	name      string
	lineWidth int
}

// knownOptions are every option the plugin reads. Each call accepts all of
// them (the host passes one option set to Prepare, Encode and Decode) and
// ignores those meant for another call; any other key is an error, so a
// typo does not go unnoticed.
var knownOptions = []string{"doc_len", "line_width", "max_line_bytes", "name", "rc_aug", "revcomp"}

// parseOptions reads the options (see knownOptions).
func parseOptions(m map[string]string) (options, error) {
	o := options{docLen: defaultDocLen, rcAug: "none", maxLine: defaultMaxLine, name: "seq", lineWidth: defaultLineWidth}
	posInt := func(k, v string) (int, error) {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, fmt.Errorf("dna: option %s=%q: want a positive integer", k, v)
		}
		return n, nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys) // report the first bad option deterministically
	for _, k := range keys {
		v := m[k]
		if !slices.Contains(knownOptions, k) {
			return o, fmt.Errorf("dna: unknown option %q (known: %s)", k, strings.Join(knownOptions, ", "))
		}
		var err error
		switch k {
		case "doc_len":
			o.docLen, err = posInt(k, v)
		case "max_line_bytes":
			o.maxLine, err = posInt(k, v)
		case "line_width":
			o.lineWidth, err = posInt(k, v)
		case "name":
			if v == "" || strings.ContainsAny(v, " \t\r\n") {
				err = fmt.Errorf("dna: option name=%q: want a non-empty name without white space", v)
			}
			o.name = v
		case "rc_aug":
			if v != "none" && v != "random" && v != "both" {
				err = fmt.Errorf("dna: option rc_aug=%q: want none, random or both", v)
			}
			o.rcAug = v
		case "revcomp":
			o.revcomp, err = strconv.ParseBool(v)
			if err != nil {
				err = fmt.Errorf("dna: option revcomp=%q: want true or false", v)
			}
		}
		if err != nil {
			return o, err
		}
	}
	return o, nil
}

// Encode turns the contents of one FASTA or FASTQ file (plain or gzip) into
// tokens: each record's bases followed by [SEP]. A bare sequence without a
// header is read as one record. With req.Open (a prompt) the last record
// gets no [SEP], so that generation continues it.
func (DNA) Encode(ctx context.Context, req sdk.EncodeRequest) (sdk.Tokens, error) {
	o, err := parseOptions(req.Options)
	if err != nil {
		return nil, err
	}
	name := req.Name
	if name == "" {
		name = "<input>"
	}
	// Plain input has at most one token per byte (+1 for a bare sequence's
	// [SEP]); gzip input grows as it goes.
	var out sdk.Tokens
	if len(req.Data) < 2 || req.Data[0] != 0x1f || req.Data[1] != 0x8b {
		out = make(sdk.Tokens, 0, len(req.Data)+1)
	}
	bases := 0
	err = readRecords(ctx, bytes.NewReader(req.Data), name, readOptions{maxLine: o.maxLine, revcomp: o.revcomp},
		func(_ string, seq []byte) error {
			bases += len(seq)
			if len(out)+len(seq)+1 > sdk.MaxEncodeTokens { // gzip input can inflate past one reply
				return fmt.Errorf("dna: %s: more than %d tokens, the most one Encode reply carries; use prepare", name, sdk.MaxEncodeTokens)
			}
			out = slices.Grow(out, len(seq)+1)
			for _, id := range seq {
				out = append(out, int32(id))
			}
			out = append(out, tokSEP)
			return nil
		})
	if err != nil {
		return nil, err
	}
	if bases == 0 { // as Prepare refuses it: only separators would come out
		return nil, errNoBases(name)
	}
	if req.Open {
		out = out[:len(out)-1] // every record ended with [SEP]
	}
	return out, nil
}

// errNoBases is Encode's and Prepare's error for input whose records hold
// no base.
func errNoBases(input string) error {
	return fmt.Errorf("dna: %s: no bases in any record", input)
}

// Decode writes tokens as FASTA: [SEP] ends a record, records are named
// NAME1, NAME2, ... (option "name", default "seq"). [CLS], [BOS] and [PAD]
// are dropped; [MASK], [UNK] and [RESERVED] become N. Bases after the last
// [SEP] form a final record.
func (DNA) Decode(ctx context.Context, req sdk.DecodeRequest) ([]byte, error) {
	o, err := parseOptions(req.Options)
	if err != nil {
		return nil, err
	}
	var (
		out    bytes.Buffer
		w      = fasta.NewWriter(&out, o.lineWidth)
		cur    alphabet.Letters
		record int
	)
	flush := func() error {
		record++
		s := linear.NewSeq(o.name+strconv.Itoa(record), nil, alphabet.DNAredundant)
		s.Seq = cur
		if _, err := w.Write(s); err != nil {
			return fmt.Errorf("dna: decode: %w", err)
		}
		cur = cur[:0]
		return nil
	}
	for i, id := range req.Tokens {
		if i&0xffff == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		switch {
		case id >= tokA && id <= tokN:
			cur = append(cur, alphabet.Letter(bases[id-tokA]))
		case id == tokSEP:
			if err := flush(); err != nil {
				return nil, err
			}
		case id == tokCLS || id == tokBOS || id == tokPAD:
		case id == tokMASK || id == tokUNK || id == tokRESERVED:
			cur = append(cur, 'N')
		default:
			return nil, fmt.Errorf("dna: decode: token %d at position %d is outside the vocabulary [0, %d)", id, i, vocabSize)
		}
	}
	if len(cur) > 0 {
		if err := flush(); err != nil {
			return nil, err
		}
	}
	return out.Bytes(), nil
}

// Prepare reads every record of the inputs, cuts each into documents of
// doc_len bases (the last one shorter), ends each document with [SEP] and
// writes them with the SDK's dataset writer, which assigns the splits from
// the seed. With rc_aug=random a document is reverse-complemented when a
// hash of the seed and its index says so; with rc_aug=both a document holds
// the forward strand, [SEP], the reverse strand, [SEP], so both strands land
// in the same split.
func (DNA) Prepare(ctx context.Context, req sdk.PrepareRequest) (sdk.Dataset, error) {
	o, err := parseOptions(req.Options)
	if err != nil {
		return sdk.Dataset{}, err
	}
	files, err := sdk.InputFiles(req.Inputs, fileTypes)
	if err != nil {
		return sdk.Dataset{}, fmt.Errorf("dna: %w", err)
	}
	w, err := sdk.NewDatasetWriter(req)
	if err != nil {
		return sdk.Dataset{}, err
	}
	defer w.Abort()
	w.SetVocabSize(vocabSize)

	var (
		doc   sdk.Tokens
		index uint64 // documents added, for rc_aug=random
		rcBuf []byte
	)
	add := func(chunk []byte) error {
		doc = doc[:0]
		strand := chunk
		if o.rcAug == "random" && coin(req.Seed, index) {
			rcBuf = append(rcBuf[:0], chunk...)
			reverseComplement(rcBuf)
			strand = rcBuf
		}
		doc = appendDoc(doc, strand)
		units := int64(len(chunk))
		if o.rcAug == "both" {
			rcBuf = append(rcBuf[:0], chunk...)
			reverseComplement(rcBuf)
			doc = appendDoc(doc, rcBuf)
			units *= 2
		}
		index++
		return w.Add(doc, units)
	}
	for _, file := range files {
		if err := prepareFile(ctx, file, o, add); err != nil {
			return sdk.Dataset{}, err
		}
	}
	if index == 0 {
		return sdk.Dataset{}, errNoBases(strings.Join(req.Inputs, ", "))
	}
	return w.Finish()
}

func appendDoc(doc sdk.Tokens, seq []byte) sdk.Tokens {
	for _, id := range seq {
		doc = append(doc, int32(id))
	}
	return append(doc, tokSEP)
}

// prepareFile reads one file and passes each record's chunks to add.
func prepareFile(ctx context.Context, file string, o options, add func([]byte) error) error {
	f, err := sdk.OpenInput(file) // refuses named pipes and devices
	if err != nil {
		return fmt.Errorf("dna: %w", err)
	}
	defer f.Close()
	return readRecords(ctx, f, file, readOptions{maxLine: o.maxLine}, func(_ string, seq []byte) error {
		for len(seq) > 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			n := min(len(seq), o.docLen)
			if err := add(seq[:n]); err != nil {
				return err
			}
			seq = seq[n:]
		}
		return nil
	})
}

// coin is a fair coin flip decided by the seed and a document index
// (SplitMix64 finalizer), so rc_aug=random is the same on every run.
func coin(seed, index uint64) bool {
	z := seed ^ (index * 0x9e3779b97f4a7c15)
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return z>>63 == 1
}
