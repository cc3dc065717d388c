package session

import (
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mambakit/mambakit/framework/train"
	"github.com/mambakit/mambakit/sdk"
)

// neoxTokenizer is a tokenizer.json shaped like GPT-NeoX's: <|endoftext|>
// at 0 (special), a non-special added token, byte tokens after it.
const neoxTokenizer = `{"version":"1.0","added_tokens":[
 {"id":0,"content":"<|endoftext|>","special":true},
 {"id":1,"content":"<|padding|>","special":true},
 {"id":6,"content":"  ","special":false}],
 "model":{"type":"BPE","vocab":{"<|endoftext|>":0,"<|padding|>":1,"a":2,"b":3,"c":4,"ab":5}}}`

func TestParseTokenizer(t *testing.T) {
	ti, err := parseTokenizer([]byte(neoxTokenizer))
	if err != nil {
		t.Fatal(err)
	}
	if ti.vocab != 7 || !maps.Equal(ti.special, map[string]int32{"eos": 0}) {
		t.Errorf("vocab %d, special %v; want 7 and eos 0 (<|padding|> has no known role)", ti.vocab, ti.special)
	}
	for name, bad := range map[string]string{
		"not json":     `{"model":`,
		"negative id":  `{"model":{"vocab":{"a":-1}}}`,
		"huge id":      `{"added_tokens":[{"id":99999999999,"content":"x"}]}`,
		"empty":        `{"model":{"vocab":{}}}`,
		"wrong type":   `{"model":{"vocab":[1,2]}}`,
		"string id":    `{"model":{"vocab":{"a":"0"}}}`,
		"added no int": `{"added_tokens":[{"id":1.5}]}`,
	} {
		if _, err := parseTokenizer([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParseTokenizer(f *testing.F) {
	f.Add([]byte(neoxTokenizer))
	f.Add([]byte(`{"added_tokens":[{"id":3,"content":"</s>","special":true},{"id":2,"content":"<s>","special":true}],"model":{"vocab":{"x":0}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ti, err := parseTokenizer(b)
		if err != nil {
			return
		}
		if ti.vocab < 1 || ti.vocab > maxTokenizerVocab {
			t.Fatalf("vocabulary %d", ti.vocab)
		}
		for role, id := range ti.special {
			if id < 0 || int(id) >= ti.vocab {
				t.Fatalf("%s = %d outside the vocabulary of %d", role, id, ti.vocab)
			}
		}
	})
}

// TestDataSpecial: a text dataset's tokenizer.json renumbers the plugin's
// eos, and names that were aliases of it follow; a dataset without one
// keeps the plugin's ids.
func TestDataSpecial(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, TokenizerFile), []byte(neoxTokenizer), 0o644)
	text := sdk.Info{Special: map[string]int32{"eos": 256, "bos": 256, "answer": 300}}
	got, err := DataSpecial(text, dir, []string{TokenizerFile})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int32{"eos": 0, "bos": 0, "answer": 300}; !maps.Equal(got, want) {
		t.Errorf("special %v, want %v", got, want)
	}
	dnaInfo := sdk.Info{Special: map[string]int32{"eos": 1, "pad": 4}}
	if got, err := DataSpecial(dnaInfo, dir, nil); err != nil || !maps.Equal(got, dnaInfo.Special) {
		t.Errorf("without tokenizer.json: %v, %v", got, err)
	}
}

// TestModelModality: the recorded plugin wins and a disagreeing name is
// refused; a bare directory takes the name, or text for a tokenizer.json,
// or is refused asking for --modality.
func TestModelModality(t *testing.T) {
	dir := t.TempDir()
	rec := train.RunInfo{Checkpoint: dir, Modality: train.Plugin{Name: "dna"}}
	if m, err := ModelModality(rec, ""); m != "dna" || err != nil {
		t.Errorf("recorded: %q, %v", m, err)
	}
	if _, err := ModelModality(rec, "text"); err == nil || !strings.Contains(err.Error(), "holds a dna model") {
		t.Errorf("disagreeing: %v", err)
	}
	bare := train.RunInfo{Checkpoint: dir, Model: true}
	if _, err := ModelModality(bare, ""); err == nil || !strings.Contains(err.Error(), "--modality") {
		t.Errorf("bare, no name: %v", err)
	}
	if m, _ := ModelModality(bare, "audio"); m != "audio" {
		t.Errorf("bare, audio: %q", m)
	}
	os.WriteFile(filepath.Join(dir, TokenizerFile), []byte(neoxTokenizer), 0o644)
	if m, _ := ModelModality(bare, ""); m != "text" {
		t.Errorf("bare with tokenizer.json: %q", m)
	}
}

// TestCompleteRunInfo: a Hugging Face directory takes its vocabulary from
// its tokenizer.json (padding rows allowed, another modality's vocabulary
// refused naming both sizes) and its special ids from it.
func TestCompleteRunInfo(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, TokenizerFile), []byte(neoxTokenizer), 0o644)
	text := sdk.Info{Name: "text", VocabSize: 257, Special: map[string]int32{"eos": 256}}
	info := train.RunInfo{Checkpoint: dir, Model: true}
	if err := CompleteRunInfo(&info, text, 8); err != nil {
		t.Fatal(err)
	}
	if info.VocabSize != 7 || info.Special["eos"] != 0 {
		t.Errorf("vocabulary %d, special %v; want 7 and eos 0", info.VocabSize, info.Special)
	}
	bare := train.RunInfo{Checkpoint: t.TempDir(), Model: true}
	dnaInfo := sdk.Info{Name: "dna", VocabSize: 12, Special: map[string]int32{"eos": 1}}
	err := CompleteRunInfo(&bare, dnaInfo, 2008)
	if err == nil || !strings.Contains(err.Error(), "12 token ids") || !strings.Contains(err.Error(), "2008 embedding rows") {
		t.Errorf("a DNA plugin over a 2008-row model: %v", err)
	}
}

func TestInitOptions(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, TokenizerFile), []byte(neoxTokenizer), 0o644)
	info := train.RunInfo{Checkpoint: dir, PrepareOptions: map[string]string{"vocab_size": "4096", "doc": "line"}}
	var out bytes.Buffer
	o, err := InitOptions(info, map[string]string{"doc": "paragraph"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"tokenizer": dir, "doc": "paragraph"}; !maps.Equal(o, want) {
		t.Errorf("options %v, want %v", o, want)
	}
	if !strings.Contains(out.String(), "doc=paragraph replaces the model's doc=line") {
		t.Errorf("no warning for a replaced option: %q", out.String())
	}
	if _, err := InitOptions(info, map[string]string{"vocab_size": "100"}, &out); err == nil {
		t.Error("a new tokenizer over the model's was accepted")
	}
}
