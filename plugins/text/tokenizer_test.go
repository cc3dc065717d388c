package text

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// testdata returns the path of a fixture in testdata/, failing with a hint
// when it is missing.
func testdata(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join("testdata", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("fixture %s missing: %v\nHINT: hf-tokenizer/ is copied from shared/testdata/hf-tokenizer; brown-300k.txt is the first 300 KB of shared/data/text/brown.txt.gz", p, err)
	}
	return p
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(testdata(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func loadHF(t testing.TB) *Tokenizer {
	t.Helper()
	tok, err := ParseTokenizerJSON(readFixture(t, "hf-tokenizer/tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type hfCase struct {
	Text string  `json:"text"`
	IDs  []int32 `json:"ids"`
}

func hfCases(t testing.TB) []hfCase {
	t.Helper()
	var exp struct{ Cases []hfCase }
	if err := json.Unmarshal(readFixture(t, "hf-tokenizer/expected.json"), &exp); err != nil {
		t.Fatal(err)
	}
	return exp.Cases
}

// brownLines returns the lines of the Brown slice in testdata.
func brownLines(t testing.TB) [][]byte {
	t.Helper()
	return bytes.Split(bytes.TrimSuffix(readFixture(t, "brown-300k.txt"), []byte("\n")), []byte("\n"))
}

// TestMatchesHF checks every case of the Hugging Face fixture: the ids, and
// that decoding them gives the text back.
func TestMatchesHF(t *testing.T) {
	tok := loadHF(t)
	cases := hfCases(t)
	if len(cases) != 215 {
		t.Fatalf("expected.json has %d cases, want 215", len(cases))
	}
	enc := newEncoder(tok)
	ok := 0
	for i, c := range cases {
		got := enc.Encode(nil, []byte(c.Text))
		if !slices.Equal(got, c.IDs) {
			t.Errorf("case %d %.40q:\n got %v\nwant %v", i, c.Text, got, c.IDs)
			continue
		}
		back, err := tok.Decode(c.IDs)
		if err != nil || string(back) != c.Text {
			t.Errorf("case %d: Decode = %q, %v; want %q", i, back, err, c.Text)
			continue
		}
		ok++
	}
	t.Logf("Hugging Face parity: %d/%d cases (ids and decode)", ok, len(cases))
}

// TestMergeOrder: equal ranks merge leftmost first, as in Hugging Face
// (rank, then position): "lllll" is "ll" "ll" "l" with the fixture's merges.
func TestMergeOrder(t *testing.T) {
	tok := loadHF(t)
	ids := newEncoder(tok).Encode(nil, []byte("lllll"))
	var got []string
	for _, id := range ids {
		got = append(got, string(tok.tokens[id]))
	}
	if want := []string{"ll", "ll", "l"}; !slices.Equal(got, want) {
		t.Errorf("lllll = %q, want %q", got, want)
	}
}

// TestSpecialTokens: sugarme/tokenizer drops the text of an added token when
// it encodes ("a<|endoftext|>b" comes back as "ab"); here it becomes its id
// and decodes back.
func TestSpecialTokens(t *testing.T) {
	for name, tok := range map[string]*Tokenizer{"hf": loadHF(t), "bytes": Bytes(), "trained": trainSmall(t, 400)} {
		t.Run(name, func(t *testing.T) {
			eos := tok.eosID()
			if eos < 0 {
				t.Fatal("no <|endoftext|> token")
			}
			enc := newEncoder(tok)
			for _, s := range []string{"a<|endoftext|>b", "<|endoftext|>", "x<|endoftext|><|endoftext|>", "<|endoftext", "<|endoftext|", "<<|endoftext|>>"} {
				ids := enc.Encode(nil, []byte(s))
				want := strings.Count(s, EOS)
				if got := countID(ids, eos); got != want {
					t.Errorf("%q: %d eos ids in %v, want %d", s, got, ids, want)
				}
				back, err := tok.Decode(ids)
				if err != nil || string(back) != s {
					t.Errorf("%q: round trip gave %q, %v", s, back, err)
				}
			}
			if got := tok.Special()["eos"]; got != eos {
				t.Errorf("Special()[eos] = %d, want %d", got, eos)
			}
		})
	}
}

func countID(ids []int32, id int32) int {
	n := 0
	for _, x := range ids {
		if x == id {
			n++
		}
	}
	return n
}

// TestUnseenBytes: sugarme's BPE panics on a byte its vocabulary lacks. A
// tokenizer trained on ASCII text still encodes every byte (all 256 are
// seeded), and a tokenizer.json that lacks a byte is refused with an error.
func TestUnseenBytes(t *testing.T) {
	tok, err := Train(context.Background(), [][]byte{[]byte("aaa bbb aaa bbb ab ab ab")}, 300, 1)
	if err != nil {
		t.Fatal(err)
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	enc := newEncoder(tok)
	ids := enc.Encode(nil, all)
	back, err := tok.Decode(ids)
	if err != nil || !bytes.Equal(back, all) {
		t.Fatalf("round trip of all 256 bytes failed: %v", err)
	}

	var f map[string]any
	if err := json.Unmarshal(readFixture(t, "hf-tokenizer/tokenizer.json"), &f); err != nil {
		t.Fatal(err)
	}
	vocab := f["model"].(map[string]any)["vocab"].(map[string]any)
	delete(vocab, "Ā") // byte 0x00
	f["model"].(map[string]any)["merges"] = []any{}
	data, _ := json.Marshal(f)
	_, err = ParseTokenizerJSON(data)
	if err == nil || !strings.Contains(err.Error(), "0x00") {
		t.Fatalf("tokenizer.json without byte 0x00: err = %v, want one naming 0x00", err)
	}
}

func trainSmall(t testing.TB, size int) *Tokenizer {
	t.Helper()
	tok, err := Train(context.Background(), brownLines(t), size, 2)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestTrainDeterministic: the same corpus and size give the same
// tokenizer.json, byte for byte, whatever the number of workers and however
// the documents are grouped. (sugarme's trainer does not: see train.go.)
func TestTrainDeterministic(t *testing.T) {
	docs := brownLines(t)
	var first []byte
	for _, workers := range []int{1, 2, 7} {
		tok, err := Train(context.Background(), docs, 1000, workers)
		if err != nil {
			t.Fatal(err)
		}
		if tok.VocabSize() != 1000 {
			t.Errorf("vocab size %d, want 1000", tok.VocabSize())
		}
		js, err := tok.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = js
		} else if !bytes.Equal(js, first) {
			t.Errorf("workers=%d: tokenizer.json differs from workers=1", workers)
		}
	}
	// Saved and loaded again, it is the same tokenizer.
	tok, err := ParseTokenizerJSON(first)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := tok.MarshalJSON()
	if !bytes.Equal(again, first) {
		t.Error("tokenizer.json changes on a load/save round trip")
	}
}

// TestTrainCompresses is a sanity check that training learns something:
// the trained tokenizer must use far fewer tokens than bytes on held-out
// text.
func TestTrainCompresses(t *testing.T) {
	lines := brownLines(t)
	tok, err := Train(context.Background(), lines[:2000], 2000, 2)
	if err != nil {
		t.Fatal(err)
	}
	enc := newEncoder(tok)
	var nb, nt int
	for _, l := range lines[2000:] {
		nb += len(l)
		nt += len(enc.Encode(nil, l))
	}
	ratio := float64(nb) / float64(nt)
	t.Logf("vocab 2000 on %d held-out bytes: %.2f bytes/token", nb, ratio)
	if ratio < 2.5 {
		t.Errorf("%.2f bytes per token, want > 2.5", ratio)
	}
}

// TestPretokenize checks the hand-written GPT-2 split on the regex's corner
// cases.
func TestPretokenize(t *testing.T) {
	tests := map[string][]string{
		"empty":         {},
		"words":         {"Hello", " world"},
		"two spaces":    {"a", " ", " b"},
		"trailing":      {"a", "  "},
		"tab":           {"a", "\t", "b"},
		"space tab":     {"a", " ", "\t", "b"},
		"contractions":  {"don", "'t", " we", "'ll", " I", "'m"},
		"not contract":  {"x", "'", "S", " '", "s"},
		"numbers":       {"abc", "123", " 45", "."},
		"punct":         {"!!!", " ???", " ..."},
		"newlines":      {"a", "\n", "\n", "b"},
		"nbsp":          {"\u00a0", "non"},
		"invalid utf-8": {"a", "\xff\xfe", " \x80", "b"},
	}
	inputs := map[string]string{
		"empty": "", "words": "Hello world", "two spaces": "a  b", "trailing": "a  ",
		"tab": "a\tb", "space tab": "a \tb", "contractions": "don't we'll I'm",
		"not contract": "x'S 's", "numbers": "abc123 45.", "punct": "!!! ??? ...",
		"newlines": "a\n\nb", "nbsp": "\u00a0non", "invalid utf-8": "a\xff\xfe \x80b",
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			s := []byte(inputs[name])
			got := []string{}
			for i := 0; i < len(s); {
				j := nextWord(s, i)
				got = append(got, string(s[i:j]))
				i = j
			}
			if !slices.Equal(got, want) {
				t.Errorf("split(%q) = %q, want %q", s, got, want)
			}
		})
	}
}

// FuzzRoundTrip: any byte string, valid UTF-8 or not, encodes and decodes
// back to itself with every kind of tokenizer, and the cache does not change
// the ids.
func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{"", "Hello world", "a\xffb\xc3", "  \t\r\n x", "naïve 🙂 漢字", "<|endoftext|>", "don't 123"} {
		f.Add([]byte(s))
	}
	toks := map[string]*Tokenizer{"hf": loadHF(f), "bytes": Bytes(), "trained": trainSmall(f, 600)}
	f.Fuzz(func(t *testing.T, data []byte) {
		for name, tok := range toks {
			enc := newEncoder(tok)
			ids := enc.Encode(nil, data)
			back, err := tok.Decode(ids)
			if err != nil || !bytes.Equal(back, data) {
				t.Fatalf("%s: round trip of %q gave %q, %v", name, data, back, err)
			}
			if again := enc.Encode(nil, data); !slices.Equal(again, ids) {
				t.Fatalf("%s: cached encoding differs: %v vs %v", name, again, ids)
			}
			if utf8.Valid(data) && name == "bytes" && !bytes.Contains(data, []byte(EOS)) && len(ids) != len(data) {
				t.Fatalf("bytes: %d ids for %d bytes", len(ids), len(data))
			}
		}
	})
}

// FuzzParseTokenizerJSON: the loader never panics, and whatever it accepts
// encodes and decodes losslessly (unless it normalizes).
//
// A byte-level BPE needs all 256 one-byte tokens, so no accepted file is
// under about 2.3 KB. The seeds are compact JSON near that floor, and inputs
// over maxFuzzTokenizerJSON are skipped: every input that finds new coverage
// is minimized by Go's fuzzer, whose byte-deletion passes cost O(n²) runs of
// the target, and with the 9–12 KB indented seeds one minimization held a
// worker for the whole default 60 s (the campaign saw 6 inputs in 45 s).
// TestMatchesHF and TestParseTokenizerJSON cover the 119 KB fixture.
func FuzzParseTokenizerJSON(f *testing.F) {
	for _, tok := range []*Tokenizer{trainSmall(f, 300), Bytes()} {
		f.Add(compactJSON(f, tok))
	}
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":0},"merges":["a a"]}}`))
	f.Add([]byte(`{"added_tokens":[{"id":5,"content":"x"}],"pre_tokenizer":{"type":"ByteLevel"},"model":{"type":"BPE","vocab":{"a":-1}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzTokenizerJSON {
			t.Skip()
		}
		tok, err := ParseTokenizerJSON(data)
		if err != nil {
			return
		}
		s := []byte("The jury said \xff it's 12 \u00e9t\u00e9 <|endoftext|>  ")
		ids := newEncoder(tok).Encode(nil, s)
		back, err := tok.Decode(ids)
		if err != nil || (!tok.nfc && !bytes.Equal(back, s)) {
			t.Fatalf("accepted tokenizer does not round trip: %q, %v", back, err)
		}
	})
}

// maxFuzzTokenizerJSON bounds FuzzParseTokenizerJSON's inputs: the seeds
// with room to grow, and a minimization that stays affordable.
const maxFuzzTokenizerJSON = 8 << 10

// TestCompactSeedsLoad keeps FuzzParseTokenizerJSON's seeds files the
// loader accepts and well under maxFuzzTokenizerJSON, so the fuzzer starts
// past the vocabulary checks and minimizing a seed stays cheap.
func TestCompactSeedsLoad(t *testing.T) {
	for name, tok := range map[string]*Tokenizer{"trained": trainSmall(t, 300), "bytes": Bytes()} {
		data := compactJSON(t, tok)
		if _, err := ParseTokenizerJSON(data); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if len(data) > maxFuzzTokenizerJSON/2 {
			t.Errorf("%s: the seed is %d bytes; keep it well under maxFuzzTokenizerJSON (%d)", name, len(data), maxFuzzTokenizerJSON)
		}
	}
}

// compactJSON is tok's tokenizer.json without the indentation.
func compactJSON(tb testing.TB, tok *Tokenizer) []byte {
	tb.Helper()
	b, err := tok.MarshalJSON()
	if err != nil {
		tb.Fatal(err)
	}
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		tb.Fatal(err)
	}
	return out.Bytes()
}

func BenchmarkEncode(b *testing.B) {
	lines := brownLines(b)
	data := bytes.Join(lines, []byte("\n"))
	for name, tok := range map[string]*Tokenizer{"hf2000": loadHF(b), "bytes": Bytes()} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			enc := newEncoder(tok)
			for b.Loop() {
				enc.Encode(nil, data)
			}
		})
	}
}

// TestParseTokenizerJSON edits the fixture one field at a time: what the
// loader cannot reproduce exactly is refused with a reason, and the other
// accepted forms (string merges, NFC) load.
func TestParseTokenizerJSON(t *testing.T) {
	tests := map[string]struct {
		edit func(f map[string]any)
		want string // "" means it loads
	}{
		"as is":         {func(map[string]any) {}, ""},
		"string merges": {func(f map[string]any) { stringMerges(f) }, ""},
		"nfc":           {func(f map[string]any) { f["normalizer"] = map[string]any{"type": "NFC"} }, ""},
		"added in merges": {func(f map[string]any) {
			f["added_tokens"] = append(f["added_tokens"].([]any), map[string]any{"id": 261, "content": " the"})
		}, ""},
		"lowercase":       {func(f map[string]any) { f["normalizer"] = map[string]any{"type": "Lowercase"} }, `normalizer "Lowercase"`},
		"metaspace":       {func(f map[string]any) { f["pre_tokenizer"] = map[string]any{"type": "Metaspace"} }, `pre_tokenizer "Metaspace"`},
		"no pre_tok":      {func(f map[string]any) { f["pre_tokenizer"] = nil }, "pre_tokenizer is missing"},
		"prefix space":    {func(f map[string]any) { f["pre_tokenizer"].(map[string]any)["add_prefix_space"] = true }, "add_prefix_space"},
		"no regex":        {func(f map[string]any) { f["pre_tokenizer"].(map[string]any)["use_regex"] = false }, "use_regex"},
		"unigram":         {func(f map[string]any) { model(f)["type"] = "Unigram" }, `model type "Unigram"`},
		"dropout":         {func(f map[string]any) { model(f)["dropout"] = 0.1 }, "dropout"},
		"byte fallback":   {func(f map[string]any) { model(f)["byte_fallback"] = true }, "byte_fallback"},
		"lstrip":          {func(f map[string]any) { f["added_tokens"].([]any)[0].(map[string]any)["lstrip"] = true }, "lstrip"},
		"unknown merge":   {func(f map[string]any) { model(f)["merges"] = []any{[]any{"Ġ", "zzz"}} }, `token "zzz"`},
		"merge no result": {func(f map[string]any) { model(f)["merges"] = []any{[]any{"Z", "Q"}} }, "not in the vocabulary"},
		"dup id":          {func(f map[string]any) { model(f)["vocab"].(map[string]any)["ZQ"] = 1999 }, "appears twice"},
		"not byte-level":  {func(f map[string]any) { model(f)["vocab"].(map[string]any)[" x"] = 2000 }, "not a byte-level token"},
		"huge id":         {func(f map[string]any) { model(f)["vocab"].(map[string]any)["zz"] = 1 << 40 }, "outside"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var f map[string]any
			if err := json.Unmarshal(readFixture(t, "hf-tokenizer/tokenizer.json"), &f); err != nil {
				t.Fatal(err)
			}
			tc.edit(f)
			data, _ := json.Marshal(f)
			tok, err := ParseTokenizerJSON(data)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if ids := newEncoder(tok).Encode(nil, []byte("Hello world")); !slices.Equal(ids, []int32{566, 343, 79, 757}) {
					t.Errorf("Hello world = %v", ids)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func model(f map[string]any) map[string]any { return f["model"].(map[string]any) }

func stringMerges(f map[string]any) {
	ms := model(f)["merges"].([]any)
	for i, m := range ms {
		p := m.([]any)
		ms[i] = p[0].(string) + " " + p[1].(string)
	}
}

// bpeReference is the plain statement of BPE encoding that encoder.bpe
// implements with a heap and a linked list: repeatedly merge the adjacent
// pair of lowest rank, leftmost among equal ranks.
func bpeReference(t *Tokenizer, w []byte) []int32 {
	ids := make([]int32, len(w))
	for i, b := range w {
		ids[i] = t.byteID[b]
	}
	for {
		best, bestRank := -1, int32(0)
		var bestID int32
		for i := 0; i+1 < len(ids); i++ {
			if m, ok := t.ranks[pair{ids[i], ids[i+1]}]; ok && (best < 0 || m.rank < bestRank) {
				best, bestRank, bestID = i, m.rank, m.id
			}
		}
		if best < 0 {
			return ids
		}
		ids = slices.Replace(ids, best, best+2, bestID)
	}
}

// FuzzBPEMatchesReference: the heap-based merge loop gives the reference's
// ids on every word, with the Hugging Face and a trained tokenizer.
func FuzzBPEMatchesReference(f *testing.F) {
	for _, s := range []string{"lllll", "Hello", " the", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "ssssssss", "\xff\xfe", " 1,000,000"} {
		f.Add([]byte(s))
	}
	toks := []*Tokenizer{loadHF(f), trainSmall(f, 800)}
	f.Fuzz(func(t *testing.T, word []byte) {
		if len(word) == 0 || len(word) > 512 {
			t.Skip()
		}
		for _, tok := range toks {
			got := newEncoder(tok).bpe(nil, word)
			if want := bpeReference(tok, word); !slices.Equal(got, want) {
				t.Fatalf("bpe(%q) = %v, reference %v", word, got, want)
			}
		}
	})
}

func BenchmarkTrain(b *testing.B) {
	docs := brownLines(b)
	n := 0
	for _, d := range docs {
		n += len(d)
	}
	b.SetBytes(int64(n))
	for b.Loop() {
		if _, err := Train(context.Background(), docs, 2000, 2); err != nil {
			b.Fatal(err)
		}
	}
}

// TestNeoXShape loads the fixture reshaped like GPT-NeoX-20B's file: an NFC
// normalizer, a ByteLevel post-processor, and a non-special added token for
// a run of two spaces. Added tokens are split out before BPE and NFC, as in
// Hugging Face.
func TestNeoXShape(t *testing.T) {
	var f map[string]any
	if err := json.Unmarshal(readFixture(t, "hf-tokenizer/tokenizer.json"), &f); err != nil {
		t.Fatal(err)
	}
	f["normalizer"] = map[string]any{"type": "NFC"}
	f["post_processor"] = map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true}
	delete(f["pre_tokenizer"].(map[string]any), "use_regex")
	f["added_tokens"] = append(f["added_tokens"].([]any), map[string]any{"id": 2000, "content": "  ", "normalized": true, "special": false})
	data, _ := json.Marshal(f)
	tok, err := ParseTokenizerJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	enc := newEncoder(tok)
	hf := newEncoder(loadHF(t))
	ids := enc.Encode(nil, []byte("a  b"))
	want := append(append(hf.Encode(nil, []byte("a")), 2000), hf.Encode(nil, []byte("b"))...)
	if !slices.Equal(ids, want) {
		t.Errorf(`"a  b" = %v, want %v`, ids, want)
	}
	// NFC: "e" + combining acute encodes as "é".
	if got, want := enc.Encode(nil, []byte("cafe\u0301")), hf.Encode(nil, []byte("caf\u00e9")); !slices.Equal(got, want) {
		t.Errorf("NFC: %v, want %v", got, want)
	}
	if _, ok := tok.Special()["  "]; ok {
		t.Error("a non-special added token is listed in Special")
	}
}
