package text

import (
	"unicode"
	"unicode/utf8"
)

// Pre-tokenization: the GPT-2 split that Hugging Face's ByteLevel
// pre-tokenizer applies (use_regex: true) before BPE,
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// written out by hand: Go's regexp has no look-ahead, and a hand-written
// scanner is several times faster. BPE merges never cross a word boundary,
// which is what makes the word → ids cache work.
//
// Bytes that are not valid UTF-8 count as "other" (neither letter, number nor
// space), so any byte string splits into words that concatenate back to it.

// Character classes of the split.
const (
	clsOther = iota
	clsLetter
	clsNumber
	clsSpace
)

// asciiClass is the class of each ASCII byte.
var asciiClass = func() (t [utf8.RuneSelf]uint8) {
	for b := range utf8.RuneSelf {
		t[b] = classOf(rune(b))
	}
	return t
}()

func classOf(r rune) uint8 {
	switch {
	case unicode.IsLetter(r):
		return clsLetter
	case unicode.IsNumber(r):
		return clsNumber
	case unicode.IsSpace(r):
		return clsSpace
	}
	return clsOther
}

// classAt returns the class of the character starting at s[i] and its length
// in bytes. An invalid byte is one "other" character of length 1.
func classAt(s []byte, i int) (uint8, int) {
	if b := s[i]; b < utf8.RuneSelf {
		return asciiClass[b], 1
	}
	r, n := utf8.DecodeRune(s[i:])
	if r == utf8.RuneError && n == 1 {
		return clsOther, 1
	}
	return classOf(r), n
}

// nextWord returns the end of the word that starts at s[i] (i < len(s)).
func nextWord(s []byte, i int) int {
	// 's 't 're 've 'm 'll 'd
	if s[i] == '\'' && i+1 < len(s) {
		switch s[i+1] {
		case 's', 't', 'm', 'd':
			return i + 2
		case 'r', 'v':
			if i+2 < len(s) && s[i+2] == 'e' {
				return i + 3
			}
		case 'l':
			if i+2 < len(s) && s[i+2] == 'l' {
				return i + 3
			}
		}
	}
	c, n := classAt(s, i)
	j := i + n
	if c == clsSpace {
		if s[i] == ' ' && j < len(s) {
			// " ?X+": a single space joins the run of letters, numbers or
			// other characters that follows it.
			if c2, n2 := classAt(s, j); c2 != clsSpace {
				return run(s, j+n2, c2)
			}
		}
		// \s+(?!\S)|\s+: a run of spaces, less its last character when a
		// non-space follows (that character then starts the next word).
		last := i
		for j < len(s) {
			c2, n2 := classAt(s, j)
			if c2 != clsSpace {
				if last > i {
					return last
				}
				return j
			}
			last = j
			j += n2
		}
		return j
	}
	return run(s, j, c)
}

// run extends a word from s[j] over characters of class c.
func run(s []byte, j int, c uint8) int {
	for j < len(s) {
		c2, n2 := classAt(s, j)
		if c2 != c {
			break
		}
		j += n2
	}
	return j
}
