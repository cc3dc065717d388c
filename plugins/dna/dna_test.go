package dna

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mambakit/mambakit/sdk"
)

var ctx = context.Background()

func TestDescribe(t *testing.T) {
	info, err := New().Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "dna" || info.Unit != "base" || info.VocabSize != 12 || info.Kind != sdk.KindDiscrete {
		t.Errorf("Describe = %+v", info)
	}
	// The HyenaDNA / Caduceus character tokenizer ids.
	want := map[string]int32{"cls": 0, "sep": 1, "eos": 1, "bos": 2, "mask": 3, "pad": 4, "reserved": 5, "unk": 6}
	for k, v := range want {
		if info.Special[k] != v {
			t.Errorf("Special[%q] = %d, want %d", k, info.Special[k], v)
		}
	}
}

func TestEncode(t *testing.T) {
	tests := []struct {
		name string
		in   string
		opts map[string]string
		want sdk.Tokens
	}{
		{"bases", ">a\nACGTN\n", nil, sdk.Tokens{7, 8, 9, 10, 11, 1}},
		{"soft-masked and IUPAC", ">a\nacgtRyU\n", nil, sdk.Tokens{7, 8, 9, 10, 11, 11, 10, 1}},
		{"two records", ">a\nA\n>b\nC\n", nil, sdk.Tokens{7, 1, 8, 1}},
		{"empty record", ">a\n>b\nG\n", nil, sdk.Tokens{1, 9, 1}},
		{"reverse strand", ">a\nAACG\n", map[string]string{"revcomp": "true"}, sdk.Tokens{8, 9, 10, 10, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := New().Encode(ctx, sdk.EncodeRequest{Data: []byte(tt.in), Name: "x.fa", Options: tt.opts})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Encode = %v, want %v", got, tt.want)
			}
			// A prompt leaves its last record open: no final [SEP].
			open, err := New().Encode(ctx, sdk.EncodeRequest{Data: []byte(tt.in), Name: "x.fa", Options: tt.opts, Open: true})
			if err != nil {
				t.Fatal(err)
			}
			if want := tt.want[:len(tt.want)-1]; !slices.Equal(open, want) {
				t.Errorf("Encode(Open) = %v, want %v", open, want)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		in   sdk.Tokens
		opts map[string]string
		want string
	}{
		{"nil", nil, nil, ""},
		{"one record", sdk.Tokens{7, 8, 9, 10, 11, 1}, nil, ">seq1\nACGTN\n"},
		{"no final sep", sdk.Tokens{7, 1, 8}, nil, ">seq1\nA\n>seq2\nC\n"},
		{"empty record", sdk.Tokens{1, 7, 1}, nil, ">seq1\n>seq2\nA\n"},
		{"specials", sdk.Tokens{0, 2, 7, 4, 3, 6, 5, 1}, nil, ">seq1\nANNN\n"},
		{"wrapped, named", sdk.Tokens{7, 7, 7, 8, 8, 1}, map[string]string{"line_width": "2", "name": "gen"}, ">gen1\nAA\nAC\nC\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := New().Decode(ctx, sdk.DecodeRequest{Tokens: tt.in, Options: tt.opts})
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("Decode = %q, want %q", got, tt.want)
			}
		})
	}
	for _, bad := range []sdk.Tokens{{12}, {-1}, {7, 100}} {
		if _, err := New().Decode(ctx, sdk.DecodeRequest{Tokens: bad}); err == nil || !strings.Contains(err.Error(), "outside the vocabulary") {
			t.Errorf("Decode(%v) error = %v, want an out-of-vocabulary error", bad, err)
		}
	}
}

// TestRoundTrip checks Encode(Decode(Encode(file))) == Encode(file) on the
// test files, and that Decode restores every base (uppercased).
func TestRoundTrip(t *testing.T) {
	for _, name := range []string{"ecoli_536_sample.fa", "ecoli_536_reads.fq"} {
		data, err := os.ReadFile(testdata(name))
		if err != nil {
			t.Fatal(err)
		}
		toks, err := New().Encode(ctx, sdk.EncodeRequest{Data: data, Name: name})
		if err != nil {
			t.Fatal(err)
		}
		fa, err := New().Decode(ctx, sdk.DecodeRequest{Tokens: toks})
		if err != nil {
			t.Fatal(err)
		}
		again, err := New().Encode(ctx, sdk.EncodeRequest{Data: fa, Name: "decoded.fa"})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(toks, again) {
			t.Errorf("%s: tokens differ after Decode and Encode", name)
		}
		recs, err := read(data, readOptions{})
		if err != nil {
			t.Fatal(err)
		}
		dec, err := read(fa, readOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range recs {
			if strings.ToUpper(recs[i].seq) != dec[i].seq {
				t.Errorf("%s: record %d bases differ after the round trip", name, i+1)
			}
		}
	}
}

func TestOptions(t *testing.T) {
	bad := []struct {
		opts map[string]string
		want string
	}{
		{map[string]string{"doclen": "5"}, `unknown option "doclen"`},
		{map[string]string{"revcomp": "maybe"}, "want true or false"},
		{map[string]string{"doc_len": "0"}, "want a positive integer"},
		{map[string]string{"rc_aug": "sometimes"}, "want none, random or both"},
		{map[string]string{"name": "a b"}, "without white space"},
	}
	for _, tt := range bad {
		if _, err := parseOptions(tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseOptions(%v) error = %v, want %q", tt.opts, err, tt.want)
		}
	}
}

// prepare runs Prepare into a fresh directory.
func prepare(t *testing.T, inputs []string, opts map[string]string, seed uint64) sdk.Dataset {
	t.Helper()
	ds, err := New().Prepare(ctx, sdk.PrepareRequest{
		Inputs: inputs, OutDir: filepath.Join(t.TempDir(), "ds"), Options: opts, Seed: seed, ValidFraction: 0.2,
	})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// readSplit returns a split's tokens and document start offsets.
func readSplit(t *testing.T, ds sdk.Dataset, s sdk.Split) (sdk.Tokens, []int64) {
	t.Helper()
	tb, err := os.ReadFile(filepath.Join(ds.Dir, s.File))
	if err != nil {
		t.Fatal(err)
	}
	db, err := os.ReadFile(filepath.Join(ds.Dir, s.DocsFile))
	if err != nil {
		t.Fatal(err)
	}
	toks := make(sdk.Tokens, len(tb)/4)
	for i := range toks {
		toks[i] = int32(binary.LittleEndian.Uint32(tb[4*i:]))
	}
	docs := make([]int64, len(db)/8)
	for i := range docs {
		docs[i] = int64(binary.LittleEndian.Uint64(db[8*i:]))
	}
	return toks, docs
}

func TestPrepare(t *testing.T) {
	in := []string{testdata("ecoli_536_sample.fa"), testdata("ecoli_536_reads.fq")}
	ds := prepare(t, in, map[string]string{"doc_len": "500"}, 1)
	// 2400 bases → 5 docs, 1200 → 3 docs, 6 reads of 100 → 6 docs.
	if docs := ds.Train.Documents + ds.Valid.Documents; docs != 14 {
		t.Errorf("documents = %d, want 14", docs)
	}
	if units := ds.Train.Units + ds.Valid.Units; units != 4200 {
		t.Errorf("units = %d, want 4200 bases", units)
	}
	if toks := ds.Train.Tokens + ds.Valid.Tokens; toks != 4200+14 {
		t.Errorf("tokens = %d, want 4214 (bases + one [SEP] per document)", toks)
	}
	if ds.VocabSize != vocabSize || ds.Valid.Documents == 0 || ds.Train.Documents == 0 {
		t.Errorf("dataset = %+v", ds)
	}
	// Every document ends with [SEP] and holds no other special token.
	for _, s := range []sdk.Split{ds.Train, ds.Valid} {
		toks, starts := readSplit(t, ds, s)
		for i, st := range starts {
			end := int64(len(toks))
			if i+1 < len(starts) {
				end = starts[i+1]
			}
			if toks[end-1] != tokSEP || slices.Contains(toks[st:end-1], tokSEP) {
				t.Fatalf("%s: document %d does not end with its only [SEP]", s.File, i)
			}
		}
	}
}

// TestPrepareDeterministic checks that the same inputs, options and seed
// give the same files byte for byte, and that another seed changes the split.
func TestPrepareDeterministic(t *testing.T) {
	in := []string{"testdata"}
	for _, aug := range []string{"none", "random", "both"} {
		opts := map[string]string{"doc_len": "300", "rc_aug": aug}
		a, b := prepare(t, in, opts, 7), prepare(t, in, opts, 7)
		for _, f := range []string{"train.tokens", "train.docs", "valid.tokens", "valid.docs", "dataset.json"} {
			x, err1 := os.ReadFile(filepath.Join(a.Dir, f))
			y, err2 := os.ReadFile(filepath.Join(b.Dir, f))
			if err1 != nil || err2 != nil || !bytes.Equal(x, y) {
				t.Errorf("rc_aug=%s: %s differs between two runs (%v, %v)", aug, f, err1, err2)
			}
		}
	}
}

func TestPrepareReverseComplement(t *testing.T) {
	in := []string{testdata("ecoli_536_sample.fa")}
	plain := prepare(t, in, map[string]string{"doc_len": "100000"}, 3)
	both := prepare(t, in, map[string]string{"doc_len": "100000", "rc_aug": "both"}, 3)
	if got, want := both.Train.Units+both.Valid.Units, 2*(plain.Train.Units+plain.Valid.Units); got != want {
		t.Errorf("rc_aug=both units = %d, want %d", got, want)
	}
	random := prepare(t, in, map[string]string{"doc_len": "100", "rc_aug": "random"}, 3)
	fwd := prepare(t, in, map[string]string{"doc_len": "100"}, 3)
	a, _ := readSplit(t, random, random.Train)
	b, _ := readSplit(t, fwd, fwd.Train)
	if slices.Equal(a, b) {
		t.Error("rc_aug=random changed no document")
	}
}

func TestPrepareBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	empty := write("empty.fa", nil)
	junk := write("junk.fa", []byte{0x7f, 'E', 'L', 'F', 0, 0, 1})
	noFasta := filepath.Join(dir, "nofasta")
	write("nofasta/readme.txt", []byte("hello"))
	tests := []struct {
		name   string
		inputs []string
		want   string
	}{
		{"missing path", []string{filepath.Join(dir, "nope.fa")}, "nope.fa: no such file or directory"},
		{"empty file", []string{empty}, "empty.fa: empty file"},
		{"binary junk", []string{junk}, "junk.fa: not FASTA or FASTQ"},
		{"directory without FASTA", []string{noFasta}, "nofasta: directory has no readable file ending in .fa"},
		{"no inputs", nil, "dna: no input files given"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "ds")
			_, err := New().Prepare(ctx, sdk.PrepareRequest{Inputs: tt.inputs, OutDir: out, ValidFraction: 0.1})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("a failed Prepare left %s behind", out)
			}
		})
	}
}

// TestPrepareEcoli prepares the real E. coli 536 genome (4.9 Mbp, one
// record) from the shared data directory and logs the time it takes.
func TestPrepareEcoli(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	genome := sharedData(t, "dna/ecoli_536.fna.gz")
	start := time.Now()
	ds := prepare(t, []string{genome}, nil, 1)
	el := time.Since(start)
	units := ds.Train.Units + ds.Valid.Units
	if units != 4938920 {
		t.Errorf("units = %d, want 4938920 bases", units)
	}
	t.Logf("prepared %d bases in %v (%.1f Mbase/s): train %d docs / %d tokens, valid %d docs / %d tokens",
		units, el.Round(time.Millisecond), float64(units)/el.Seconds()/1e6,
		ds.Train.Documents, ds.Train.Tokens, ds.Valid.Documents, ds.Valid.Tokens)
}

func TestCoin(t *testing.T) {
	heads := 0
	for i := range uint64(10000) {
		if coin(42, i) {
			heads++
		}
		if coin(42, i) != coin(42, i) {
			t.Fatal("coin is not deterministic")
		}
	}
	if heads < 4800 || heads > 5200 {
		t.Errorf("%d heads in 10000 flips", heads)
	}
	same := 0
	for i := range uint64(1000) {
		if coin(1, i) == coin(2, i) {
			same++
		}
	}
	if same < 400 || same > 600 {
		t.Errorf("seeds 1 and 2 agree on %d of 1000 flips; want about half", same)
	}
}

// BenchmarkEncode measures reading and tokenizing FASTA (Mbase/s).
func BenchmarkEncode(b *testing.B) {
	data, err := os.ReadFile(testdata("ecoli_536_sample.fa"))
	if err != nil {
		b.Fatal(err)
	}
	var big []byte
	for range 300 {
		big = append(big, data...)
	}
	for name, in := range map[string][]byte{"fasta": big, "fasta.gz": gz(b, big)} {
		b.Run(name, func(b *testing.B) {
			var bases int
			for b.Loop() {
				toks, err := New().Encode(ctx, sdk.EncodeRequest{Data: in})
				if err != nil {
					b.Fatal(err)
				}
				bases = len(toks)
			}
			b.ReportMetric(float64(bases)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mbase/s")
		})
	}
}

// TestEncodeRefusesNoBases is the regression test for issue 17's R6:
// FASTA with headers and no bases is refused by Encode as by Prepare, not
// encoded as separators alone.
func TestEncodeRefusesNoBases(t *testing.T) {
	in := ">a\n>b\n\n"
	_, err := New().Encode(ctx, sdk.EncodeRequest{Data: []byte(in), Name: "headers.fa"})
	if err == nil || err.Error() != "dna: headers.fa: no bases in any record" {
		t.Errorf("Encode error = %v, want \"dna: headers.fa: no bases in any record\"", err)
	}
	file := filepath.Join(t.TempDir(), "headers.fa")
	if err := os.WriteFile(file, []byte(in), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = New().Prepare(ctx, sdk.PrepareRequest{Inputs: []string{file}, OutDir: filepath.Join(t.TempDir(), "ds"), ValidFraction: 0.5})
	if err == nil || !strings.Contains(err.Error(), "no bases in any record") {
		t.Errorf("Prepare error = %v, want the same refusal", err)
	}
}
