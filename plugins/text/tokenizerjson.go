package text

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// tokenizer.json: Hugging Face's tokenizer file, read and written here.
//
// sugarme/tokenizer can read this format (pretrained.FromReader) but cannot
// write it (Tokenizer.Save is a stub), drops the added-token flags we must
// check, and panics on some malformed files; so the plugin reads and writes
// it itself, strictly, and the tests check that sugarme reads what we write
// and gives the same ids.

// GPT-2's byte-level alphabet: byte b is written in tokenizer.json as the
// printable rune byteRune[b] (bytes_to_unicode in GPT-2's encoder.py).
var (
	byteRune  [256]rune
	runeByte  = map[rune]byte{}
	byteRunes [256]string
)

func init() {
	n := 0
	for b := range 256 {
		if b >= '!' && b <= '~' || b >= 0xa1 && b <= 0xac || b >= 0xae && b <= 0xff {
			byteRune[b] = rune(b)
		} else {
			byteRune[b] = rune(256 + n)
			n++
		}
		runeByte[byteRune[b]] = byte(b)
		byteRunes[b] = string(byteRune[b])
	}
}

// byteLevel writes bytes in the byte-level alphabet.
func byteLevel(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		sb.WriteString(byteRunes[c])
	}
	return sb.String()
}

// fromByteLevel reads a string of the byte-level alphabet back to bytes.
func fromByteLevel(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		b, ok := runeByte[r]
		if !ok {
			return nil, fmt.Errorf("%q is outside the byte-level alphabet", r)
		}
		out = append(out, b)
	}
	return out, nil
}

type hfFile struct {
	Version       string          `json:"version"`
	AddedTokens   []hfAdded       `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Model         hfModel         `json:"model"`
}

type hfAdded struct {
	ID         int64  `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

type hfModel struct {
	Type                    string           `json:"type"`
	Dropout                 *float64         `json:"dropout"`
	UnkToken                *string          `json:"unk_token"`
	ContinuingSubwordPrefix *string          `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string          `json:"end_of_word_suffix"`
	ByteFallback            bool             `json:"byte_fallback"`
	IgnoreMerges            bool             `json:"ignore_merges"`
	Vocab                   map[string]int64 `json:"vocab"`
	Merges                  json.RawMessage  `json:"merges"`
}

type hfComponent struct {
	Type           string `json:"type"`
	AddPrefixSpace bool   `json:"add_prefix_space"`
	UseRegex       *bool  `json:"use_regex"`
}

// ParseTokenizerJSON reads a Hugging Face tokenizer.json holding a
// byte-level BPE (GPT-2, GPT-NeoX and their kin). It refuses, with a reason,
// anything whose ids it could not reproduce exactly: other models, other
// pre-tokenizers, prefix spaces, dropout, added tokens with strip rules.
func ParseTokenizerJSON(data []byte) (*Tokenizer, error) {
	var f hfFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("not a tokenizer.json: %w", err)
	}
	m := f.Model
	if m.Type != "BPE" {
		return nil, fmt.Errorf("model type %q is not supported (want a byte-level BPE)", m.Type)
	}
	if m.Dropout != nil && *m.Dropout != 0 {
		return nil, errors.New("BPE dropout is not supported (it makes encoding random)")
	}
	if m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "" ||
		m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "" {
		return nil, errors.New("continuing_subword_prefix and end_of_word_suffix are not supported by a byte-level BPE")
	}
	if m.ByteFallback {
		return nil, errors.New("byte_fallback is not supported (it belongs to SentencePiece-style BPE, not byte-level)")
	}
	nfc, err := parseNormalizer(f.Normalizer)
	if err != nil {
		return nil, err
	}
	if err := checkByteLevel("pre_tokenizer", f.PreTokenizer, false); err != nil {
		return nil, err
	}
	if err := checkByteLevel("decoder", f.Decoder, true); err != nil {
		return nil, err
	}

	// Ids must be dense enough to allocate: below the number of entries.
	limit := int64(len(m.Vocab) + len(f.AddedTokens))
	size := int64(0)
	checkID := func(what string, id int64) error {
		if id < 0 || id >= limit {
			return fmt.Errorf("%s has id %d, outside [0, %d)", what, id, limit)
		}
		size = max(size, id+1)
		return nil
	}
	var added []addedToken
	addedIDs := map[int64]bool{}
	for _, a := range f.AddedTokens {
		if err := checkID(fmt.Sprintf("added token %q", a.Content), a.ID); err != nil {
			return nil, err
		}
		if a.SingleWord || a.LStrip || a.RStrip {
			return nil, fmt.Errorf("added token %q uses single_word, lstrip or rstrip, which this plugin does not implement", a.Content)
		}
		if a.Content == "" {
			return nil, fmt.Errorf("added token %d is empty", a.ID)
		}
		if addedIDs[a.ID] {
			return nil, fmt.Errorf("added token id %d appears twice", a.ID)
		}
		addedIDs[a.ID] = true
		added = append(added, addedToken{content: []byte(a.Content), id: int32(a.ID), special: a.Special})
	}
	// In id order, so that the error for a bad file is always the same.
	type entry struct {
		tok string
		id  int64
	}
	entries := make([]entry, 0, len(m.Vocab))
	for tok, id := range m.Vocab {
		entries = append(entries, entry{tok, id})
	}
	slices.SortFunc(entries, func(x, y entry) int {
		return cmp.Or(cmp.Compare(x.id, y.id), strings.Compare(x.tok, y.tok))
	})
	for _, e := range entries {
		if err := checkID(fmt.Sprintf("vocabulary entry %q", e.tok), e.id); err != nil {
			return nil, err
		}
	}
	tokens := make([][]byte, size)
	for _, a := range added {
		tokens[a.id] = a.content
	}
	for _, e := range entries {
		tok, id := e.tok, e.id
		if addedIDs[id] {
			continue // its bytes are the added token's content
		}
		if tokens[id] != nil {
			return nil, fmt.Errorf("vocabulary id %d appears twice", id)
		}
		b, err := fromByteLevel(tok)
		if err != nil || len(b) == 0 {
			return nil, fmt.Errorf("vocabulary entry %q (id %d) is not a byte-level token", tok, id)
		}
		tokens[id] = b
	}
	merges, err := parseMerges(m.Merges, m.Vocab)
	if err != nil {
		return nil, err
	}
	t, err := newTokenizer(tokens, merges, added, nfc)
	if err != nil {
		return nil, err
	}
	t.ignoreMerges = m.IgnoreMerges
	return t, nil
}

func parseNormalizer(raw json.RawMessage) (nfc bool, err error) {
	if isNull(raw) {
		return false, nil
	}
	var c hfComponent
	if err := json.Unmarshal(raw, &c); err != nil {
		return false, fmt.Errorf("normalizer: %w", err)
	}
	if c.Type == "NFC" {
		return true, nil
	}
	return false, fmt.Errorf("normalizer %q is not supported (only none or NFC)", c.Type)
}

// checkByteLevel accepts a ByteLevel component (or none for the decoder).
func checkByteLevel(what string, raw json.RawMessage, nullOK bool) error {
	if isNull(raw) {
		if nullOK {
			return nil
		}
		return fmt.Errorf("%s is missing; a byte-level BPE needs the ByteLevel pre-tokenizer", what)
	}
	var c hfComponent
	if err := json.Unmarshal(raw, &c); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if c.Type != "ByteLevel" {
		return fmt.Errorf("%s %q is not supported (only ByteLevel)", what, c.Type)
	}
	if what == "pre_tokenizer" {
		if c.AddPrefixSpace {
			return errors.New("pre_tokenizer.add_prefix_space=true is not supported (it changes the text, so decoding would not give it back)")
		}
		if c.UseRegex != nil && !*c.UseRegex {
			return errors.New("pre_tokenizer.use_regex=false is not supported (only the GPT-2 split)")
		}
	}
	return nil
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

// parseMerges reads merges in either of tokenizer.json's forms: "a b"
// strings (older files) or ["a", "b"] pairs.
func parseMerges(raw json.RawMessage, vocab map[string]int64) ([]pair, error) {
	if isNull(raw) {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("merges: %w", err)
	}
	merges := make([]pair, 0, len(items))
	for i, it := range items {
		var parts []string
		var s string
		if err := json.Unmarshal(it, &s); err == nil {
			parts = strings.Split(s, " ")
		} else if err := json.Unmarshal(it, &parts); err != nil {
			return nil, fmt.Errorf("merge %d: neither \"a b\" nor [\"a\", \"b\"]", i)
		}
		if len(parts) != 2 {
			return nil, fmt.Errorf("merge %d: %d parts, want 2", i, len(parts))
		}
		var p [2]int32
		for k, tok := range parts {
			id, ok := vocab[tok]
			if !ok {
				return nil, fmt.Errorf("merge %d: token %q is not in the vocabulary", i, tok)
			}
			p[k] = int32(id)
		}
		merges = append(merges, pair{p[0], p[1]})
	}
	return merges, nil
}

// MarshalJSON writes the tokenizer as a Hugging Face tokenizer.json. The
// output depends only on the tokenizer (vocabulary in id order, merges in
// rank order), so the same training gives the same file byte for byte.
func (t *Tokenizer) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	q := func(s string) {
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(s) // a string always encodes
		b.Truncate(b.Len() - 1)
	}
	b.WriteString("{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": [")
	addedByID := map[int32]addedToken{}
	for _, a := range t.added {
		addedByID[a.id] = a
	}
	first := true
	for id := range t.tokens {
		a, ok := addedByID[int32(id)]
		if !ok {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		fmt.Fprintf(&b, "\n    {\n      \"id\": %d,\n      \"content\": ", a.id)
		q(string(a.content))
		fmt.Fprintf(&b, ",\n      \"single_word\": false,\n      \"lstrip\": false,\n      \"rstrip\": false,\n      \"normalized\": false,\n      \"special\": %t\n    }", a.special)
	}
	if !first {
		b.WriteString("\n  ")
	}
	b.WriteString("],\n  \"normalizer\": ")
	if t.nfc {
		b.WriteString("{\n    \"type\": \"NFC\"\n  }")
	} else {
		b.WriteString("null")
	}
	b.WriteString(`,
  "pre_tokenizer": {
    "type": "ByteLevel",
    "add_prefix_space": false,
    "trim_offsets": true,
    "use_regex": true
  },
  "post_processor": null,
  "decoder": {
    "type": "ByteLevel",
    "add_prefix_space": true,
    "trim_offsets": true,
    "use_regex": true
  },
  "model": {
    "type": "BPE",
    "dropout": null,
    "unk_token": null,
    "continuing_subword_prefix": null,
    "end_of_word_suffix": null,
    "fuse_unk": false,
    "byte_fallback": false,
    "ignore_merges": `)
	fmt.Fprintf(&b, "%t,\n    \"vocab\": {", t.ignoreMerges)
	seen := map[string]bool{}
	first = true
	for id, tok := range t.tokens {
		if len(tok) == 0 {
			continue
		}
		key := byteLevel(tok)
		if a, ok := addedByID[int32(id)]; ok {
			key = string(a.content)
		}
		if seen[key] {
			return nil, fmt.Errorf("vocabulary entry %q appears twice", key)
		}
		seen[key] = true
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.WriteString("\n      ")
		q(key)
		fmt.Fprintf(&b, ": %d", id)
	}
	b.WriteString("\n    },\n    \"merges\": [")
	for i, p := range t.merges {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("\n      [\n        ")
		q(byteLevel(t.tokens[p.a]))
		b.WriteString(",\n        ")
		q(byteLevel(t.tokens[p.b]))
		b.WriteString("\n      ]")
	}
	if len(t.merges) > 0 {
		b.WriteString("\n    ")
	}
	b.WriteString("]\n  }\n}\n")
	if !utf8.Valid(b.Bytes()) {
		return nil, errors.New("tokenizer.json is not valid UTF-8") // cannot happen: byte-level keys are runes
	}
	return b.Bytes(), nil
}
