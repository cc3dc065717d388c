package text

import (
	"bytes"
	"fmt"
	"slices"
	"sync"

	"golang.org/x/text/unicode/norm"
)

// EOS is the end-of-document token of the tokenizers this plugin makes (the
// GPT-2 / GPT-NeoX name). Prepare appends it to every document.
const EOS = "<|endoftext|>"

// A Tokenizer is a byte-level BPE tokenizer with Hugging Face's semantics
// (GPT-2 / GPT-NeoX tokenizer.json): added tokens are split out first, the
// rest is split into words (pretokenize.go), and each word's bytes are
// merged by rank. Every byte has a token, so any byte string encodes, and
// Decode(Encode(x)) == x for any x (unless the tokenizer.json asks for NFC
// normalization, which changes non-NFC text as it does in Hugging Face).
//
// A Tokenizer is immutable and safe for concurrent use; the word cache is
// the caller's (see encoder).
type Tokenizer struct {
	// tokens[id] is the byte string that id stands for (raw bytes, not
	// GPT-2's printable byte-level characters).
	tokens [][]byte
	// byteID[b] is the id of the one-byte token b.
	byteID [256]int32
	// merges in rank order; ranks maps a pair of ids to its merge.
	merges []pair
	ranks  map[pair]merge
	// added tokens (special or not), matched in the text before BPE.
	added []addedToken
	// addedFirst[b] says some added token starts with byte b.
	addedFirst [256]bool
	// nfc: apply Unicode NFC to the text before BPE (GPT-NeoX does).
	nfc bool
	// ignoreMerges: a word that is itself a token is not merged (Llama-3
	// style tokenizer.json files set it).
	ignoreMerges bool
	// index maps the bytes of each token to its id.
	index map[string]int32
}

type pair struct{ a, b int32 }

type merge struct {
	rank int32
	id   int32 // the merged token
}

type addedToken struct {
	content []byte
	id      int32
	special bool
}

// Bytes returns the plain byte tokenizer: id b is byte b, and
// <|endoftext|> is id 256.
func Bytes() *Tokenizer {
	tokens := make([][]byte, 257)
	for b := range 256 {
		tokens[b] = []byte{byte(b)}
	}
	tokens[256] = []byte(EOS)
	t, err := newTokenizer(tokens, nil, []addedToken{{content: []byte(EOS), id: 256, special: true}}, false)
	if err != nil {
		panic(err) // cannot happen: the vocabulary above is complete
	}
	return t
}

// VocabSize is the number of token ids (the largest id plus one).
func (t *Tokenizer) VocabSize() int { return len(t.tokens) }

// Special returns the ids of the special added tokens, keyed by the names
// the host uses ("eos" for <|endoftext|>) or by their content.
func (t *Tokenizer) Special() map[string]int32 {
	m := make(map[string]int32)
	for _, a := range t.added {
		if !a.special {
			continue
		}
		name := string(a.content)
		switch name {
		case EOS:
			name = "eos"
		case "<|padding|>", "<pad>":
			name = "pad"
		}
		m[name] = a.id
	}
	return m
}

// eosID returns the id of <|endoftext|>, or -1.
func (t *Tokenizer) eosID() int32 {
	for _, a := range t.added {
		if string(a.content) == EOS {
			return a.id
		}
	}
	return -1
}

// newTokenizer completes a Tokenizer from its tokens, merges and added
// tokens, checking that they are consistent: every byte has a one-byte token
// (the sugarme/tokenizer defect of panicking on an unseen byte cannot happen
// here, because a tokenizer without all 256 bytes is refused up front) and
// every merge names existing tokens.
func newTokenizer(tokens [][]byte, merges []pair, added []addedToken, nfc bool) (*Tokenizer, error) {
	t := &Tokenizer{tokens: tokens, merges: merges, added: added, nfc: nfc}
	isAdded := make(map[int32]bool, len(added))
	for _, a := range added {
		if a.id < 0 || int(a.id) >= len(tokens) {
			return nil, fmt.Errorf("added token %q has id %d outside the vocabulary (size %d)", a.content, a.id, len(tokens))
		}
		if len(a.content) == 0 {
			return nil, fmt.Errorf("added token %d is empty", a.id)
		}
		isAdded[a.id] = true
		t.addedFirst[a.content[0]] = true
	}
	// Longest first, so the first match at a position is the longest
	// (Hugging Face matches added tokens leftmost-longest).
	slices.SortStableFunc(t.added, func(x, y addedToken) int { return len(y.content) - len(x.content) })
	for i := range t.byteID {
		t.byteID[i] = -1
	}
	for id, tok := range tokens {
		if len(tok) == 1 && !isAdded[int32(id)] && t.byteID[tok[0]] < 0 {
			t.byteID[tok[0]] = int32(id)
		}
	}
	var missing []byte
	for b, id := range t.byteID {
		if id < 0 {
			missing = append(missing, byte(b))
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("vocabulary lacks %d of the 256 single-byte tokens (first: 0x%02x); a byte-level BPE needs all of them to encode any input", len(missing), missing[0])
	}
	// The index prefers ordinary tokens, but also holds added tokens: in
	// some files (GPT-NeoX's whitespace runs) a merge produces the id of an
	// added token that is also in the BPE vocabulary.
	t.index = make(map[string]int32, len(tokens))
	for _, wantAdded := range []bool{false, true} {
		for id, tok := range tokens {
			if _, dup := t.index[string(tok)]; !dup && len(tok) > 0 && isAdded[int32(id)] == wantAdded {
				t.index[string(tok)] = int32(id)
			}
		}
	}
	t.ranks = make(map[pair]merge, len(merges))
	for r, p := range merges {
		n := len(tokens)
		if p.a < 0 || int(p.a) >= n || p.b < 0 || int(p.b) >= n {
			return nil, fmt.Errorf("merge %d refers to a token outside the vocabulary", r)
		}
		id, ok := t.index[string(tokens[p.a])+string(tokens[p.b])]
		if !ok {
			return nil, fmt.Errorf("merge %d (%q %q): the merged token is not in the vocabulary", r, byteLevel(tokens[p.a]), byteLevel(tokens[p.b]))
		}
		t.ranks[p] = merge{rank: int32(r), id: id} // a repeated pair keeps its last rank, as in Hugging Face
	}
	return t, nil
}

// Decode returns the bytes that ids stand for. Special tokens decode to
// their text, so Decode(Encode(x)) == x.
func (t *Tokenizer) Decode(ids []int32) ([]byte, error) {
	n := 0
	for i, id := range ids {
		if id < 0 || int(id) >= len(t.tokens) || len(t.tokens[id]) == 0 {
			return nil, fmt.Errorf("token %d: id %d is not in the vocabulary (size %d)", i, id, len(t.tokens))
		}
		n += len(t.tokens[id])
	}
	out := make([]byte, 0, n)
	for _, id := range ids {
		out = append(out, t.tokens[id]...)
	}
	return out, nil
}

// bytesTokenizer is the default tokenizer of Encode and Decode, built once.
var bytesTokenizer = sync.OnceValue(Bytes)

// An encoder encodes with a Tokenizer and a word → ids cache. It is not safe
// for concurrent use: Prepare gives each worker its own.
type encoder struct {
	t     *Tokenizer
	cache map[string][]int32
	// scratch for bpe
	syms []symbol
	heap heap[candidate] // by (rank, pos)
}

// Words longer than this are not cached (they are rare, and a cache of huge
// words is a memory leak on junk input); the cache is cleared when it holds
// more than maxCacheWords words.
const (
	maxCachedWord = 64
	maxCacheWords = 1 << 20
)

func newEncoder(t *Tokenizer) *encoder {
	return &encoder{t: t, cache: make(map[string][]int32)}
}

// Encode appends the ids of text to dst.
//
// Added tokens (such as <|endoftext|>) in the text become their ids, as in
// Hugging Face: this is the one place that handles them, and it is the
// workaround for sugarme/tokenizer dropping them (its Encode loses the text
// of a special token, so the round trip fails).
func (e *encoder) Encode(dst []int32, text []byte) []int32 {
	t := e.t
	if len(t.added) == 0 {
		return e.encodeOrdinary(dst, text)
	}
	start := 0
	for i := 0; i < len(text); {
		if !t.addedFirst[text[i]] {
			i++
			continue
		}
		a := t.matchAdded(text[i:])
		if a == nil {
			i++
			continue
		}
		dst = e.encodeOrdinary(dst, text[start:i])
		dst = append(dst, a.id)
		i += len(a.content)
		start = i
	}
	return e.encodeOrdinary(dst, text[start:])
}

func (t *Tokenizer) matchAdded(s []byte) *addedToken {
	for i := range t.added {
		if bytes.HasPrefix(s, t.added[i].content) {
			return &t.added[i]
		}
	}
	return nil
}

// encodeOrdinary encodes text that holds no added token.
func (e *encoder) encodeOrdinary(dst []int32, text []byte) []int32 {
	t := e.t
	if len(text) == 0 {
		return dst
	}
	if t.nfc && !norm.NFC.IsNormal(text) {
		text = norm.NFC.Bytes(text)
	}
	if len(t.merges) == 0 {
		dst = slices.Grow(dst, len(text))
		for _, b := range text {
			dst = append(dst, t.byteID[b])
		}
		return dst
	}
	for i := 0; i < len(text); {
		j := nextWord(text, i)
		dst = e.encodeWord(dst, text[i:j])
		i = j
	}
	return dst
}

func (e *encoder) encodeWord(dst []int32, w []byte) []int32 {
	if len(w) == 1 {
		return append(dst, e.t.byteID[w[0]])
	}
	if e.t.ignoreMerges {
		if id, ok := e.t.index[string(w)]; ok {
			return append(dst, id)
		}
	}
	if len(w) > maxCachedWord {
		return e.bpe(dst, w)
	}
	if ids, ok := e.cache[string(w)]; ok {
		return append(dst, ids...)
	}
	n := len(dst)
	dst = e.bpe(dst, w)
	if len(e.cache) >= maxCacheWords {
		clear(e.cache)
	}
	e.cache[string(w)] = slices.Clone(dst[n:])
	return dst
}

// symbol is one token of a word being merged: a doubly linked list over
// the word's bytes, as in Hugging Face's Word.
type symbol struct {
	id         int32
	prev, next int32 // indices into syms; -1 at the ends
	size       int32 // bytes covered; 0 once merged into its left neighbour
}

// bpe appends the ids of word w. It applies merges lowest rank first and,
// among equal ranks, leftmost first: Hugging Face's order. (sugarme's
// Word.MergeAll breaks rank ties by a zero timestamp instead of position,
// which is not Hugging Face's order when a pair repeats in a word.)
func (e *encoder) bpe(dst []int32, w []byte) []int32 {
	t := e.t
	syms := e.syms[:0]
	for i, b := range w {
		syms = append(syms, symbol{id: t.byteID[b], prev: int32(i - 1), next: int32(i + 1), size: 1})
	}
	syms[len(syms)-1].next = -1
	h := e.heap[:0]
	for i := 0; i+1 < len(syms); i++ {
		if m, ok := t.ranks[pair{syms[i].id, syms[i+1].id}]; ok {
			h.push(candidate{rank: m.rank, pos: int32(i), id: m.id})
		}
	}
	for len(h) > 0 {
		c := h.pop()
		s := &syms[c.pos]
		if s.size == 0 || s.next < 0 {
			continue
		}
		// Stale: the pair at c.pos changed since c was pushed. (Hugging
		// Face compares only the merged id, and so does this.)
		if m, ok := t.ranks[pair{s.id, syms[s.next].id}]; !ok || m.id != c.id {
			continue
		}
		right := &syms[s.next]
		s.id = c.id
		s.size += right.size
		right.size = 0
		s.next = right.next
		if s.next >= 0 {
			syms[s.next].prev = c.pos
		}
		if s.prev >= 0 {
			p := &syms[s.prev]
			if m, ok := t.ranks[pair{p.id, s.id}]; ok {
				h.push(candidate{rank: m.rank, pos: s.prev, id: m.id})
			}
		}
		if s.next >= 0 {
			if m, ok := t.ranks[pair{s.id, syms[s.next].id}]; ok {
				h.push(candidate{rank: m.rank, pos: c.pos, id: m.id})
			}
		}
	}
	for i := int32(0); i >= 0; i = syms[i].next {
		dst = append(dst, syms[i].id)
	}
	e.syms, e.heap = syms, h
	return dst
}

type candidate struct {
	rank, pos, id int32
}

func (c candidate) less(d candidate) bool {
	return c.rank < d.rank || c.rank == d.rank && c.pos < d.pos
}
