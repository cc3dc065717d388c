package session

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/mambakit/mambakit/sdk"
)

// TokenizerFile is the Hugging Face tokenizer a text dataset, checkpoint
// or model directory carries (the text plugin's "tokenizer" option takes
// the directory).
const TokenizerFile = "tokenizer.json"

// tokenizerSpecial names the roles of well-known special tokens: a
// tokenizer.json lists its added tokens but not what each is for (that is
// in tokenizer_config.json, which mambakit does not need otherwise).
// GPT-2's and GPT-NeoX's <|endoftext|> ends (and begins) every document.
var tokenizerSpecial = map[string]string{
	"<|endoftext|>": "eos",
	"</s>":          "eos",
	"<s>":           "bos",
	"<pad>":         "pad",
	"[PAD]":         "pad",
	"<unk>":         "unk",
	"[UNK]":         "unk",
}

// maxTokenizerBytes bounds the tokenizer.json the host reads (GPT-NeoX's
// is 2 MB).
const maxTokenizerBytes = 64 << 20

// maxTokenizerVocab is the largest vocabulary taken from a tokenizer.json
// (backbone's limit on vocab_size).
const maxTokenizerVocab = 1 << 22

// tokenizerInfo is what the host needs of a tokenizer.json (the plugin
// does the tokenizing): how many ids it makes and the ids of its special
// tokens by role.
type tokenizerInfo struct {
	vocab   int
	special map[string]int32
}

// readTokenizer reads the tokenizer.json at path.
func readTokenizer(path string) (tokenizerInfo, error) {
	if _, err := sdk.RegularFile(path); err != nil {
		return tokenizerInfo{}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return tokenizerInfo{}, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTokenizerBytes+1))
	if err != nil {
		return tokenizerInfo{}, fmt.Errorf("%s: %w", path, err)
	}
	if len(b) > maxTokenizerBytes {
		return tokenizerInfo{}, fmt.Errorf("%s: larger than %d MiB", path, maxTokenizerBytes>>20)
	}
	ti, err := parseTokenizer(b)
	if err != nil {
		return ti, fmt.Errorf("%s: %w", path, err)
	}
	return ti, nil
}

// parseTokenizer reads the vocabulary size (the largest id of the model's
// vocabulary and the added tokens, plus one) and the special ids.
func parseTokenizer(b []byte) (tokenizerInfo, error) {
	var f struct {
		Added []struct {
			ID      int64  `json:"id"`
			Content string `json:"content"`
			Special bool   `json:"special"`
		} `json:"added_tokens"`
		Model struct {
			Vocab map[string]int64 `json:"vocab"`
		} `json:"model"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return tokenizerInfo{}, fmt.Errorf("not a tokenizer.json: %w", err)
	}
	ti := tokenizerInfo{special: map[string]int32{}}
	top := int64(-1)
	check := func(what string, id int64) error {
		if id < 0 || id >= maxTokenizerVocab {
			return fmt.Errorf("%s has id %d: want 0..%d", what, id, maxTokenizerVocab-1)
		}
		top = max(top, id)
		return nil
	}
	for tok, id := range f.Model.Vocab {
		if err := check(fmt.Sprintf("vocabulary entry %q", tok), id); err != nil {
			return ti, err
		}
	}
	for _, a := range f.Added {
		if err := check(fmt.Sprintf("added token %q", a.Content), a.ID); err != nil {
			return ti, err
		}
		if role, ok := tokenizerSpecial[a.Content]; ok && a.Special {
			ti.special[role] = int32(a.ID)
		}
	}
	if top < 0 {
		return ti, fmt.Errorf("no vocabulary (model.vocab and added_tokens are empty)")
	}
	ti.vocab = int(top + 1)
	return ti, nil
}

// withTokenizer returns the special ids of a modality (base, its
// sdk.Info.Special) as a tokenizer.json has them: each role the tokenizer
// names takes its id, and a name that shared an id with such a role in
// base (the text plugin's eos and any alias of it) follows it.
func withTokenizer(base map[string]int32, ti tokenizerInfo) map[string]int32 {
	out := make(map[string]int32, len(base)+len(ti.special))
	roles := slices.Sorted(maps.Keys(ti.special))
	for name, id := range base {
		out[name] = id
		for _, role := range roles {
			if bid, ok := base[role]; ok && bid == id {
				out[name] = ti.special[role]
				break
			}
		}
	}
	for role, id := range ti.special {
		out[role] = id
	}
	return out
}

// DataSpecial returns the special ids of data prepared into dir by a
// plugin with info: the plugin's, as the dataset's tokenizer.json (when
// it has one) numbers them. A text dataset with a learned BPE has
// <|endoftext|> at 0, not the byte tokenizer's 256 that Describe reports.
func DataSpecial(info sdk.Info, dir string, artifacts []string) (map[string]int32, error) {
	for _, a := range artifacts {
		if a == TokenizerFile {
			ti, err := readTokenizer(filepath.Join(dir, a))
			if err != nil {
				return nil, err
			}
			return withTokenizer(info.Special, ti), nil
		}
	}
	return info.Special, nil
}
