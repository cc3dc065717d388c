package text

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mambakit/mambakit/sdk"
)

func prepare(t *testing.T, inputs []string, opts map[string]string) (sdk.Dataset, error) {
	t.Helper()
	return New().Prepare(context.Background(), sdk.PrepareRequest{
		Inputs:        inputs,
		OutDir:        filepath.Join(t.TempDir(), "ds"),
		Options:       opts,
		Seed:          7,
		ValidFraction: 0.1,
	})
}

// readSplits returns the documents of both splits of a dataset, each
// without its <|endoftext|>, decoded with the dataset's tokenizer.json.
func readSplits(t *testing.T, ds sdk.Dataset) (docs [][]byte, tok *Tokenizer) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(ds.Dir, TokenizerFile))
	if err != nil {
		t.Fatal(err)
	}
	if tok, err = ParseTokenizerJSON(data); err != nil {
		t.Fatal(err)
	}
	eos := tok.eosID()
	for _, split := range []string{"train", "valid"} {
		sd, err := sdk.OpenSplit(ds.Dir, split)
		if err != nil {
			t.Fatal(err)
		}
		for i, start := range sd.Docs {
			end := int64(len(sd.Tokens))
			if i+1 < len(sd.Docs) {
				end = sd.Docs[i+1]
			}
			ids := sd.Tokens[start:end]
			if len(ids) == 0 || ids[len(ids)-1] != eos {
				t.Fatalf("%s doc %d does not end with <|endoftext|>", split, i)
			}
			b, err := tok.Decode(ids[:len(ids)-1])
			if err != nil {
				t.Fatal(err)
			}
			docs = append(docs, b)
		}
		sd.Close()
	}
	return docs, tok
}

// TestPrepare prepares the Brown slice with each kind of tokenizer and
// checks the dataset: every document decodes back to a line of the input,
// the units are the documents' bytes, and tokenizer.json is an artifact.
func TestPrepare(t *testing.T) {
	brown := testdata(t, "brown-300k.txt")
	lines := brownLines(t)
	var total int64
	want := map[string]bool{}
	for _, l := range lines {
		total += int64(len(l))
		want[string(l)] = true
	}
	tests := map[string]struct {
		opts  map[string]string
		vocab int
	}{
		"trained": {map[string]string{"vocab_size": "1000"}, 1000},
		"bytes":   {map[string]string{"tokenizer": "bytes"}, 257},
		"hf":      {map[string]string{"tokenizer": testdata(t, "hf-tokenizer/tokenizer.json")}, 2000},
		"hf dir":  {map[string]string{"tokenizer": filepath.Dir(testdata(t, "hf-tokenizer/tokenizer.json"))}, 2000},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ds, err := prepare(t, []string{brown}, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if ds.VocabSize != tc.vocab {
				t.Errorf("VocabSize = %d, want %d", ds.VocabSize, tc.vocab)
			}
			if !slices.Contains(ds.Artifacts, TokenizerFile) {
				t.Errorf("Artifacts = %v, want %s", ds.Artifacts, TokenizerFile)
			}
			if got := ds.Train.Documents + ds.Valid.Documents; got != int64(len(lines)) {
				t.Errorf("%d documents, want %d", got, len(lines))
			}
			if got := ds.Train.Units + ds.Valid.Units; got != total {
				t.Errorf("%d units, want %d bytes", got, total)
			}
			if ds.Valid.Documents == 0 || ds.Train.Documents < 10*ds.Valid.Documents/2 {
				t.Errorf("split %d/%d documents, want about 9:1", ds.Train.Documents, ds.Valid.Documents)
			}
			docs, _ := readSplits(t, ds)
			for i, d := range docs {
				if !want[string(d)] {
					t.Fatalf("document %d %.60q is not a line of the input", i, d)
				}
			}
			t.Logf("%d tokens for %d bytes: %.2f bytes/token", ds.Train.Tokens+ds.Valid.Tokens, total,
				float64(total)/float64(ds.Train.Tokens+ds.Valid.Tokens))
		})
	}
}

// TestPrepareDeterministic: the same inputs, options and seed give the same
// files, byte for byte (the tokenizer is trained in both runs).
func TestPrepareDeterministic(t *testing.T) {
	brown := testdata(t, "brown-300k.txt")
	var first map[string][]byte
	for range 2 {
		ds, err := prepare(t, []string{brown}, map[string]string{"vocab_size": "600"})
		if err != nil {
			t.Fatal(err)
		}
		files := map[string][]byte{}
		ents, _ := os.ReadDir(ds.Dir)
		for _, e := range ents {
			files[e.Name()], _ = os.ReadFile(filepath.Join(ds.Dir, e.Name()))
		}
		if first == nil {
			first = files
			continue
		}
		for name, b := range files {
			if !bytes.Equal(b, first[name]) {
				t.Errorf("%s differs between two runs", name)
			}
		}
	}
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func gz(data []byte) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(data)
	w.Close()
	return b.Bytes()
}

// TestInputs checks the file types and document modes on a directory.
func TestInputs(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.txt", []byte("one\ntwo\n\nthree\r\nfour"))
	writeFile(t, dir, "sub/b.txt.gz", gz([]byte("five\nsix\n")))
	writeFile(t, dir, "c.jsonl", []byte(`{"text":"seven\neight","id":1}`+"\n\n"+`{"text":""}`+"\n"+`{"text":"nine \u00e9"}`))
	writeFile(t, dir, "ignored.csv", []byte("x,y\n"))
	writeFile(t, dir, "notes/d.md", []byte("# ten\n\neleven\n"))
	tests := map[string][]string{
		"line":      {"one", "two", "three\r", "four", "seven\neight", "nine é", "five", "six", "# ten", "eleven"},
		"paragraph": {"one\ntwo", "three\r\nfour", "seven\neight", "nine é", "five\nsix", "# ten", "eleven"},
		"file":      {"one\ntwo\n\nthree\r\nfour", "seven\neight", "nine é", "five\nsix", "# ten\n\neleven"},
	}
	for mode, want := range tests {
		t.Run(mode, func(t *testing.T) {
			ds, err := prepare(t, []string{dir}, map[string]string{"tokenizer": "bytes", "doc": mode})
			if err != nil {
				t.Fatal(err)
			}
			docs, _ := readSplits(t, ds)
			got := make([]string, len(docs))
			for i, d := range docs {
				got[i] = string(d)
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("documents %q, want %q", got, want)
			}
		})
	}
}

// TestBadInput: each bad input gives an error that names the file, never a
// panic.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	junk := make([]byte, 4096)
	for i := range junk {
		junk[i] = byte(i * 7919 >> 3)
	}
	huge := bytes.Repeat([]byte("word "), 1000)
	tests := map[string]struct {
		path string
		opts map[string]string
		want string
	}{
		"empty file":      {writeFile(t, dir, "empty.txt", nil), nil, "empty file"},
		"blank lines":     {writeFile(t, dir, "blank.txt", []byte("\n \n\t\n")), nil, "empty file"},
		"empty gzip":      {writeFile(t, dir, "empty.txt.gz", nil), nil, "empty file"},
		"binary junk":     {writeFile(t, dir, "junk.txt", junk), nil, "binary"},
		"not gzip":        {writeFile(t, dir, "fake.txt.gz", []byte("plain text")), nil, "not a gzip file"},
		"truncated gzip":  {writeFile(t, dir, "cut.txt.gz", gz(huge)[:40]), nil, "cut.txt.gz:1: truncated or corrupt"},
		"huge line":       {writeFile(t, dir, "huge.txt", huge), map[string]string{"max_doc_bytes": "1000"}, "huge.txt:1: line longer"},
		"huge paragraph":  {writeFile(t, dir, "para.txt", bytes.ReplaceAll(huge, []byte(" "), []byte("\n"))), map[string]string{"max_doc_bytes": "1000", "doc": "paragraph"}, "para.txt"},
		"bad jsonl":       {writeFile(t, dir, "bad.jsonl", []byte(`{"text":"ok"}`+"\n{oops\n")), nil, "bad.jsonl:2: not a JSON object"},
		"jsonl no text":   {writeFile(t, dir, "notext.jsonl", []byte(`{"body":"x"}`)), nil, `notext.jsonl:1: record has no "text"`},
		"missing path":    {filepath.Join(dir, "nope.txt"), nil, "nope.txt"},
		"no text files":   {filepath.Dir(writeFile(t, dir, "other/x.csv", []byte("a"))), nil, "other"},
		"bad tokenizer":   {testdata(t, "brown-300k.txt"), map[string]string{"tokenizer": writeFile(t, dir, "tok.json", []byte("{"))}, "tok.json"},
		"no tokenizer":    {testdata(t, "brown-300k.txt"), map[string]string{"tokenizer": filepath.Join(dir, "missing.json")}, "missing.json"},
		"no eos":          {testdata(t, "brown-300k.txt"), map[string]string{"tokenizer": noEOS(t, dir)}, "noeos.json has no <|endoftext|>"},
		"bad option":      {testdata(t, "brown-300k.txt"), map[string]string{"vocab": "3"}, "unknown option"},
		"small vocab":     {testdata(t, "brown-300k.txt"), map[string]string{"vocab_size": "100"}, "vocab_size=100"},
		"both tokenizers": {testdata(t, "brown-300k.txt"), map[string]string{"vocab_size": "300", "tokenizer": "bytes"}, "exclude"},
		"bad doc mode":    {testdata(t, "brown-300k.txt"), map[string]string{"doc": "page"}, "doc=page"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := prepare(t, []string{tc.path}, tc.opts)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q is more than one line", err)
			}
		})
	}
}

// TestEncodeDecode goes through the Modality: the default byte tokenizer,
// a tokenizer.json by path, and a dataset directory.
func TestEncodeDecode(t *testing.T) {
	m := New()
	ctx := context.Background()
	hf := testdata(t, "hf-tokenizer/tokenizer.json")
	in := []byte("Hello world\xff <|endoftext|> naïve")
	for name, opts := range map[string]map[string]string{
		"default": nil,
		"bytes":   {"tokenizer": "bytes"},
		"hf":      {"tokenizer": hf},
		"hf dir":  {"tokenizer": filepath.Dir(hf)},
	} {
		t.Run(name, func(t *testing.T) {
			ids, err := m.Encode(ctx, sdk.EncodeRequest{Data: in, Options: opts})
			if err != nil {
				t.Fatal(err)
			}
			out, err := m.Decode(ctx, sdk.DecodeRequest{Tokens: ids, Options: opts})
			if err != nil || !bytes.Equal(out, in) {
				t.Fatalf("round trip gave %q, %v", out, err)
			}
		})
	}
	ids, err := m.Encode(ctx, sdk.EncodeRequest{Data: gz(in), Name: "x.txt.gz"})
	if err != nil || len(ids) != len(in)-len(EOS)+1 {
		t.Errorf("gzip input: %d ids, %v", len(ids), err)
	}
	// A gzip bomb (64 KB inflating past the bound) is refused, not inflated.
	bomb := gz(make([]byte, sdk.MaxEncodeBytes+1))
	if _, err := m.Encode(ctx, sdk.EncodeRequest{Data: bomb, Name: "bomb.txt.gz"}); err == nil || !strings.Contains(err.Error(), "bomb.txt.gz: more than") {
		t.Errorf("gzip bomb: %v", err)
	}
	if _, err := m.Decode(ctx, sdk.DecodeRequest{Tokens: sdk.Tokens{1, 5000}}); err == nil || !strings.Contains(err.Error(), "5000") {
		t.Errorf("decoding id 5000 with the byte tokenizer: %v", err)
	}
	if _, err := m.Encode(ctx, sdk.EncodeRequest{Data: in, Options: map[string]string{"tokenizer": "/nonexistent/t.json"}}); err == nil || !strings.Contains(err.Error(), "/nonexistent/t.json") {
		t.Errorf("missing tokenizer: %v", err)
	}
	if _, err := m.Encode(ctx, sdk.EncodeRequest{Data: in, Options: map[string]string{"vocab_size": "4096"}}); err == nil || !strings.Contains(err.Error(), "tokenizer=PATH") {
		t.Errorf("vocab_size without tokenizer: %v", err)
	}
	// Prepare's options passed along with the tokenizer are fine.
	if _, err := m.Encode(ctx, sdk.EncodeRequest{Data: in, Options: map[string]string{"vocab_size": "4096", "doc": "line", "tokenizer": hf}}); err != nil {
		t.Errorf("Prepare options plus tokenizer: %v", err)
	}
}

// FuzzJSONL: the JSON Lines reader never panics, and errors name the file.
func FuzzJSONL(f *testing.F) {
	f.Add([]byte(`{"text":"a"}` + "\n" + `{"text":"b\nc"}`))
	f.Add([]byte(`{"text":1}`))
	f.Add([]byte("\n\n{\"text\":\"\\ud800\"}\n"))
	f.Add([]byte(`[{"text":"x"}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		docs, err := readJSONL("f.jsonl", bytes.NewReader(data), 1<<16, nil)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.jsonl:") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		for _, d := range docs {
			if len(d) == 0 {
				t.Fatal("empty document")
			}
		}
	})
}

// FuzzTextReader: the text reader never panics in any mode, and in line mode
// the documents are exactly the non-blank lines.
func FuzzTextReader(f *testing.F) {
	f.Add([]byte("a\nb\n\n c\r\n"), uint8(0))
	f.Add([]byte("\x00"), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		docs, err := readText("f.txt", bytes.NewReader(data), docMode(mode%3), 1<<16, nil)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.txt") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		if docMode(mode%3) == docLine {
			var want [][]byte
			for _, l := range bytes.Split(data, []byte("\n")) {
				if len(bytes.TrimSpace(l)) > 0 {
					want = append(want, l)
				}
			}
			if len(docs) != len(want) {
				t.Fatalf("%d documents, want %d", len(docs), len(want))
			}
			for i := range docs {
				if !bytes.Equal(docs[i], want[i]) {
					t.Fatalf("document %d %q, want %q", i, docs[i], want[i])
				}
			}
		}
	})
}

// TestArtifactReproducesDataset: Encode with tokenizer=<dataset dir> (what
// the host passes after Prepare) gives exactly the dataset's tokens, so the
// tokenizer.json artifact is the tokenizer that made the dataset.
func TestArtifactReproducesDataset(t *testing.T) {
	for name, opts := range map[string]map[string]string{
		"trained": {"vocab_size": "700"},
		"bytes":   nil,
	} {
		t.Run(name, func(t *testing.T) {
			ds, err := prepare(t, []string{testdata(t, "sample.txt")}, opts)
			if err != nil {
				t.Fatal(err)
			}
			m := New()
			codec := map[string]string{"tokenizer": ds.Dir, "doc": "line"}
			sd, err := sdk.OpenSplit(ds.Dir, "train")
			if err != nil {
				t.Fatal(err)
			}
			defer sd.Close()
			for i, start := range sd.Docs {
				end := int64(len(sd.Tokens))
				if i+1 < len(sd.Docs) {
					end = sd.Docs[i+1]
				}
				ids := sd.Tokens[start : end-1] // without <|endoftext|>
				text, err := m.Decode(context.Background(), sdk.DecodeRequest{Tokens: ids, Options: codec})
				if err != nil {
					t.Fatal(err)
				}
				again, err := m.Encode(context.Background(), sdk.EncodeRequest{Data: text, Options: codec})
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(again, ids) {
					t.Fatalf("doc %d %.40q: Encode with the artifact gives %v, dataset has %v", i, text, again, ids)
				}
			}
		})
	}
}

// noEOS writes the fixture tokenizer with its <|endoftext|> renamed.
func noEOS(t *testing.T, dir string) string {
	data := bytes.ReplaceAll(readFixture(t, "hf-tokenizer/tokenizer.json"), []byte(EOS), []byte("<|end|>"))
	return writeFile(t, dir, "noeos.json", data)
}
